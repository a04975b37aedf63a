import Foundation

/// The images of files and folders, as `birder predict photos/` takes them: files as given,
/// folders searched recursively for the formats the engine reads, in sorted order.
public enum ImageCollection {
    /// File extensions of the formats the decoder reads.
    public static let extensions: Set<String> = ["jpg", "jpeg", "png", "webp", "bmp", "tif", "tiff", "ppm", "pgm"]

    /// Every image path of `inputs` in order: files as given, directories expanded in sorted order.
    /// Files whose names cannot be opened through a `String` path are left out (see `scan`).
    public static func paths(_ inputs: [String]) throws(ImageCollectionError) -> [String] {
        let found = try scan(inputs)
        guard !found.paths.isEmpty else { throw .noImages(inputs) }
        return found.paths
    }

    /// The image paths of `inputs` in order, and apart the images found in directories whose names
    /// are not valid UTF-8. Foundation hands such a name over with U+FFFD in place of the bytes it
    /// cannot decode, and a path made from that opens nothing ("no such file"); rather than report
    /// a missing file later, they are returned (as shown, with U+FFFD) for the caller to report.
    public static func scan(_ inputs: [String]) throws(ImageCollectionError) -> (paths: [String], unopenable: [String]) {
        var paths: [String] = [], unopenable: [String] = []
        let fm = FileManager.default
        for input in inputs {
            var isDirectory: ObjCBool = false
            guard fm.fileExists(atPath: input, isDirectory: &isDirectory) else { throw .noSuchFile(input) }
            guard isDirectory.boolValue else {
                paths.append(input)
                continue
            }
            guard let walker = fm.enumerator(atPath: input) else { throw .unreadableDirectory(input) }
            var found: [String] = []
            for case let relative as String in walker
            where extensions.contains((relative as NSString).pathExtension.lowercased()) {
                let path = (input as NSString).appendingPathComponent(relative)
                if relative.unicodeScalars.contains("\u{FFFD}") && !fm.fileExists(atPath: path) {
                    unopenable.append(path)
                } else {
                    found.append(path)
                }
            }
            paths += found.sorted()
        }
        guard !paths.isEmpty || !unopenable.isEmpty else { throw .noImages(inputs) }
        return (paths, unopenable.sorted())
    }
}

public enum ImageCollectionError: Error, CustomStringConvertible, Sendable, Equatable {
    case noSuchFile(String)
    case unreadableDirectory(String)
    case noImages([String])

    public var description: String {
        switch self {
        case let .noSuchFile(path): return "\(path): no such file or directory"
        case let .unreadableDirectory(path): return "\(path): cannot read directory"
        case let .noImages(inputs): return "no images found in \(inputs.joined(separator: ", "))"
        }
    }
}
