/// The image formats BirderVision decodes. Files are recognised by their first bytes, never by
/// their extension (as PIL does).
public enum ImageFormat: String, Sendable, Equatable, CaseIterable {
    case jpeg = "JPEG"
    case png = "PNG"
    case webp = "WebP"
    case bmp = "BMP"
    case tiff = "TIFF"
    /// PBM, PGM and PPM, binary and plain.
    case netpbm = "Netpbm"
    /// The first frame.
    case gif = "GIF"
}

/// Why an image could not be decoded. Every case names the file.
public enum ImageError: Error, CustomStringConvertible, Sendable, Equatable {
    /// The file could not be read: missing, not a regular file, no permission, I/O error, or more
    /// bytes than `ImageDecodeOptions.maxFileBytes`.
    case unreadable(path: String, reason: String)
    /// The file has no bytes.
    case empty(path: String)
    /// The content is none of `ImageFormat`'s. `detected` names another format when it is one
    /// (PSD, ICO, …), which PIL would open but this engine does not.
    case unknownFormat(path: String, detected: String?)
    /// The header states more pixels than `ImageDecodeOptions.maxPixels`; nothing was allocated for them.
    case tooLarge(path: String, format: ImageFormat, width: Int, height: Int, limit: Int)
    /// The file ends before the image is complete (PIL: "image file is truncated").
    case truncated(path: String, format: ImageFormat, reason: String)
    /// The decoder rejected the data.
    case corrupt(path: String, format: ImageFormat, reason: String)
    /// A valid file in a variant this engine does not decode (e.g. 12-bit JPEG).
    case unsupported(path: String, format: ImageFormat, reason: String)
    /// Memory for the image could not be allocated.
    case outOfMemory(path: String)

    public var path: String {
        switch self {
        case let .unreadable(path, _), let .empty(path), let .unknownFormat(path, _), let .tooLarge(path, _, _, _, _),
             let .truncated(path, _, _), let .corrupt(path, _, _), let .unsupported(path, _, _), let .outOfMemory(path):
            return path
        }
    }

    public var description: String {
        switch self {
        case let .unreadable(path, reason):
            return "\(path): cannot read the file: \(reason)"
        case let .empty(path):
            return "\(path): the file is empty"
        case let .unknownFormat(path, detected):
            if let detected { return "\(path): \(detected) images are not supported (JPEG, PNG, WebP, BMP, TIFF and binary PPM/PGM/PBM are)" }
            return "\(path): not a JPEG, PNG, WebP, BMP, TIFF or PPM/PGM/PBM image"
        case let .tooLarge(path, format, width, height, limit):
            return "\(path): \(format.rawValue) image of \(width)×\(height) pixels exceeds the limit of \(limit) pixels"
        case let .truncated(path, format, reason):
            return "\(path): truncated \(format.rawValue) file: \(reason)"
        case let .corrupt(path, format, reason):
            return "\(path): corrupt \(format.rawValue) data: \(reason)"
        case let .unsupported(path, format, reason):
            return "\(path): unsupported \(format.rawValue) variant: \(reason)"
        case let .outOfMemory(path):
            return "\(path): out of memory while decoding"
        }
    }
}
