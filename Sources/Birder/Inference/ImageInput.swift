import BirderVision
import Foundation

/// One image for an inference session: a file, encoded bytes (JPEG, PNG, WebP or BMP, e.g. an upload),
/// or an image already decoded. `name` identifies it in results and errors.
public enum ImageInput: Sendable {
    case file(URL)
    case encoded(Data, name: String)
    case decoded(RGBImage, name: String)
    /// Already decoded and transformed for a session's model by `InferenceSession.prepare`.
    case prepared(PreparedImage)

    /// A file by path.
    public static func path(_ path: String) -> ImageInput { .file(URL(fileURLWithPath: path)) }

    /// The file's path as given, or the name given with the bytes or image.
    public var name: String {
        switch self {
        case let .file(url): return url.isFileURL ? url.relativePath : url.absoluteString
        case let .encoded(_, name), let .decoded(_, name): return name
        case let .prepared(image): return image.name
        }
    }

    /// Writes the model input (`transform`'s H×W×3 floats) into `output`: decoded and transformed
    /// now, or copied when prepared.
    func write(into output: UnsafeMutablePointer<Float>, transform: InferenceTransform, options: ImageDecodeOptions) throws {
        if case let .prepared(image) = self { return try image.write(into: output, transform: transform) }
        transform.write(try decode(options: options), into: output)
    }

    /// Decodes the image (files and bytes are read as Birder reads them: PIL's `convert("RGB")`).
    func decode(options: ImageDecodeOptions) throws -> RGBImage {
        switch self {
        case let .file(url): return try ImageDecoder.decode(path: url.relativePath, options: options)
        case let .encoded(data, name): return try ImageDecoder.decode(bytes: [UInt8](data), name: name, options: options)
        case let .decoded(image, _): return image
        case let .prepared(image): throw PreparedImageError.alreadyTransformed(name: image.name)
        }
    }
}
