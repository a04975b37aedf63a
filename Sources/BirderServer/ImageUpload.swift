import Birder
import Foundation
import Hummingbird
import MultipartKit

/// The images of a `classify` or `embed` request: the raw body (`image/jpeg|png|webp`) or the
/// `file` parts of a `multipart/form-data` body. Each is checked from its header alone (format,
/// pixel count) before it may join a queue; decoding happens in its batch.
struct ImageUpload {
    static let imageTypes: Set<String> = ["image/jpeg", "image/jpg", "image/png", "image/webp", "image/tiff", "image/bmp", "image/gif",
                                          "image/x-portable-pixmap", "image/x-portable-graymap", "image/x-portable-bitmap"]

    let images: [ImageInput]

    /// Reads and checks the body: 413 over `maxBodyBytes`, 415 for other content types, 400 for
    /// no image or bytes that are no image, 422 for an image with more pixels than allowed.
    static func read(_ request: inout Request, configuration: ServerConfiguration) async throws(ServerError) -> ImageUpload {
        let mediaType = request.headers[.contentType].map(MediaType.init) ?? MediaType("")
        let isImage = imageTypes.contains(mediaType.type)
        let boundary = mediaType.type == "multipart/form-data" ? mediaType.parameters["boundary"] : nil
        guard isImage || boundary != nil else {
            throw .unsupportedMediaType(mediaType.type.isEmpty
                ? "no Content-Type; send image/jpeg, image/png, image/webp, image/tiff, image/bmp, image/gif or multipart/form-data with file parts"
                : "Content-Type \(mediaType.type) is not accepted; send image/jpeg, image/png, image/webp, image/tiff, image/bmp, image/gif or multipart/form-data with file parts")
        }
        let body = try await collect(&request, limit: configuration.maxBodyBytes)
        var uploads: [(name: String, bytes: [UInt8])]
        if let boundary {
            uploads = try parts(of: body, boundary: boundary)
        } else {
            uploads = [(request.uri.queryParameters.get("name") ?? "image", Array(body.readableBytesView))]
        }
        guard !uploads.isEmpty else { throw .badRequest("the request has no image; send it as the body or as multipart file parts") }
        var options = ImageDecodeOptions()
        options.maxPixels = configuration.maxImagePixels
        for upload in uploads {
            do {
                _ = try ImageDecoder.pixelSize(of: upload.bytes, name: upload.name, options: options)
            } catch {
                if case .tooLarge = error { throw .unprocessable(error.description) }
                throw .badRequest(error.description)
            }
        }
        return ImageUpload(images: uploads.map { ImageInput.encoded(Data($0.bytes), name: $0.name) })
    }

    /// The whole body, refused (413) beyond `limit` — by its Content-Length before reading when it
    /// states one.
    static func collect(_ request: inout Request, limit: Int) async throws(ServerError) -> ByteBuffer {
        let tooLarge = ServerError.contentTooLarge("the request body is larger than the limit of \(limit) bytes")
        if let length = request.headers[.contentLength].flatMap({ Int($0) }), length > limit { throw tooLarge }
        do {
            return try await request.collectBody(upTo: limit)
        } catch let error as HTTPError where error.status == .contentTooLarge {
            throw tooLarge
        } catch {
            throw .badRequest("the request body could not be read: \(error)")
        }
    }

    /// The `file` parts of a multipart body, named by their file names.
    static func parts(of body: ByteBuffer, boundary: String) throws(ServerError) -> [(name: String, bytes: [UInt8])] {
        guard !boundary.isEmpty else { throw .badRequest("multipart/form-data without a boundary") }
        let parser = MultipartParser(boundary: boundary)
        var parts: [(headers: [String: String], body: [UInt8])] = []
        var headers: [String: String] = [:]
        var content: [UInt8] = []
        parser.onHeader = { name, value in headers[name.lowercased()] = value }
        parser.onBody = { buffer in content += buffer.readableBytesView }
        parser.onPartComplete = {
            parts.append((headers, content))
            headers = [:]
            content = []
        }
        do { try parser.execute(body) } catch {
            throw .badRequest("the multipart/form-data body is malformed")
        }
        var files: [(name: String, bytes: [UInt8])] = []
        for part in parts {
            let disposition = MediaType(part.headers["content-disposition"] ?? "")
            guard disposition.parameters["name"] == "file" else { continue }
            files.append((disposition.parameters["filename"] ?? "image\(files.count + 1)", part.body))
        }
        return files
    }
}

/// A header value of the form `type; key=value; key="quoted value"` (Content-Type,
/// Content-Disposition), type lowercased, keys lowercased.
struct MediaType {
    let type: String
    let parameters: [String: String]

    init(_ value: String) {
        var fields = MediaType.split(value)
        type = fields.isEmpty ? "" : fields.removeFirst().trimmingCharacters(in: .whitespaces).lowercased()
        var parameters: [String: String] = [:]
        for field in fields {
            guard let equals = field.firstIndex(of: "=") else { continue }
            let key = field[..<equals].trimmingCharacters(in: .whitespaces).lowercased()
            var value = field[field.index(after: equals)...].trimmingCharacters(in: .whitespaces)
            if value.count >= 2, value.hasPrefix("\""), value.hasSuffix("\"") {
                value = String(value.dropFirst().dropLast()).replacingOccurrences(of: "\\\"", with: "\"")
            }
            parameters[key] = value
        }
        self.parameters = parameters
    }

    /// Splits at semicolons outside quotes.
    private static func split(_ value: String) -> [String] {
        var fields: [String] = [], current = "", quoted = false, escaped = false
        for character in value {
            if escaped { current.append(character); escaped = false; continue }
            if character == "\\" && quoted { escaped = true; current.append(character); continue }
            if character == "\"" { quoted.toggle() }
            if character == ";" && !quoted { fields.append(current); current = ""; continue }
            current.append(character)
        }
        fields.append(current)
        return fields
    }
}
