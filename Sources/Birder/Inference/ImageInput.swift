import BirderVision
import Foundation

/// One image for an inference session: a file, encoded bytes (JPEG, PNG, WebP or BMP, e.g. an upload),
/// or an image already decoded. `name` identifies it in results and errors.
public enum ImageInput: Sendable {
    case file(URL)
    case encoded(Data, name: String)
    case decoded(RGBImage, name: String)

    /// A file by path.
    public static func path(_ path: String) -> ImageInput { .file(URL(fileURLWithPath: path)) }

    /// The file's path as given, or the name given with the bytes or image.
    public var name: String {
        switch self {
        case let .file(url): return url.isFileURL ? url.relativePath : url.absoluteString
        case let .encoded(_, name), let .decoded(_, name): return name
        }
    }

    /// Decodes the image (files and bytes are read as Birder reads them: PIL's `convert("RGB")`).
    func decode(options: ImageDecodeOptions) throws -> RGBImage {
        switch self {
        case let .file(url): return try ImageDecoder.decode(path: url.relativePath, options: options)
        case let .encoded(data, name): return try ImageDecoder.decode(bytes: [UInt8](data), name: name, options: options)
        case let .decoded(image, _): return image
        }
    }
}
