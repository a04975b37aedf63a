import Foundation

/// The images of files and folders, as `birder predict photos/` takes them: files as given,
/// folders searched recursively for the formats the engine reads, in sorted order.
public enum ImageCollection {
    /// File extensions of the formats the decoder reads.
    public static let extensions: Set<String> = ["jpg", "jpeg", "png", "webp"]

    /// Every image path of `inputs` in order: files as given, directories expanded in sorted order.
    public static func paths(_ inputs: [String]) throws(ImageCollectionError) -> [String] {
        var paths: [String] = []
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
                found.append((input as NSString).appendingPathComponent(relative))
            }
            paths += found.sorted()
        }
        guard !paths.isEmpty else { throw .noImages(inputs) }
        return paths
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
