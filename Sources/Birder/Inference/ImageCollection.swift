import Foundation

/// The images of files and folders, as `birder predict photos/` takes them: files as given,
/// folders searched recursively for the formats the engine reads, in sorted order.
public enum ImageCollection {
    /// File extensions of the formats the decoder reads: torchvision's list, which Birder's folder
    /// loader uses, and .pbm and .gif, which Pillow reads too.
    public static let extensions: Set<String> = ["jpg", "jpeg", "png", "webp", "bmp", "tif", "tiff", "ppm", "pgm", "pbm", "gif"]

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
    /// Files in folders whose extension names no format the engine reads are counted in
    /// `skipped` (hidden files and folders aside: `.DS_Store` and the like are no one's photos).
    public static func scan(_ inputs: [String]) throws(ImageCollectionError) -> ImageScan {
        var scan = ImageScan()
        let fm = FileManager.default
        for input in inputs {
            var isDirectory: ObjCBool = false
            guard fm.fileExists(atPath: input, isDirectory: &isDirectory) else { throw .noSuchFile(input) }
            guard isDirectory.boolValue else {
                scan.paths.append(input)
                continue
            }
            guard let walker = fm.enumerator(atPath: input) else { throw .unreadableDirectory(input) }
            var found: [String] = []
            for case let relative as String in walker {
                let path = (input as NSString).appendingPathComponent(relative)
                guard extensions.contains((relative as NSString).pathExtension.lowercased()) else {
                    var entryIsDirectory: ObjCBool = false
                    if !relative.split(separator: "/").contains(where: { $0.hasPrefix(".") }),
                       fm.fileExists(atPath: path, isDirectory: &entryIsDirectory), !entryIsDirectory.boolValue {
                        scan.skipped.add(path)
                    }
                    continue
                }
                if relative.unicodeScalars.contains("\u{FFFD}") && !fm.fileExists(atPath: path) {
                    scan.unopenable.append(path)
                } else {
                    found.append(path)
                }
            }
            scan.paths += found.sorted()
        }
        scan.unopenable.sort()
        guard !scan.paths.isEmpty || !scan.unopenable.isEmpty else { throw .noImages(inputs, skipped: scan.skipped) }
        return scan
    }
}

/// What `ImageCollection.scan` found.
public struct ImageScan: Sendable, Equatable {
    /// The images in input order: files as given, each folder's images sorted.
    public var paths: [String] = []
    /// Images whose names are not valid UTF-8 (shown with U+FFFD); they cannot be opened.
    public var unopenable: [String] = []
    /// Files in folders left out because no decoder reads their extension.
    public var skipped = SkippedFiles()

    public init() {}
}

/// Files a folder walk left out: how many, per extension, and the first few by name (a folder
/// of a million text files costs a counter, not a list).
public struct SkippedFiles: Sendable, Equatable, CustomStringConvertible {
    public private(set) var count = 0
    /// Lower-cased extension (empty for none) → files.
    public private(set) var byExtension: [String: Int] = [:]
    /// The first `exampleLimit` files met, in walk order.
    public private(set) var examples: [String] = []
    public static let exampleLimit = 3

    public init() {}

    mutating func add(_ path: String) {
        count += 1
        byExtension[(path as NSString).pathExtension.lowercased(), default: 0] += 1
        if examples.count < Self.exampleLimit { examples.append(path) }
    }

    /// e.g. `3 files skipped (unsupported format: .gif ×2, .txt ×1), e.g. a/x.gif, a/y.gif, a/z.txt`
    public var description: String {
        let kinds = byExtension.sorted { $0.value > $1.value || ($0.value == $1.value && $0.key < $1.key) }
            .map { "\($0.key.isEmpty ? "no extension" : "." + $0.key) ×\($0.value)" }
        return "\(count) file\(count == 1 ? "" : "s") skipped (unsupported format: \(kinds.joined(separator: ", "))), e.g. "
            + examples.joined(separator: ", ") + (count > examples.count ? ", …" : "")
    }
}

public enum ImageCollectionError: Error, CustomStringConvertible, Sendable, Equatable {
    case noSuchFile(String)
    case unreadableDirectory(String)
    /// Nothing to read; `skipped`: the files there that no decoder reads.
    case noImages([String], skipped: SkippedFiles = SkippedFiles())

    public var description: String {
        switch self {
        case let .noSuchFile(path): return "\(path): no such file or directory"
        case let .unreadableDirectory(path): return "\(path): cannot read directory"
        case let .noImages(inputs, skipped):
            return "no images found in \(inputs.joined(separator: ", "))"
                + (skipped.count > 0 ? ": \(skipped) (readable: .\(ImageCollection.extensions.sorted().joined(separator: " .")))" : "")
        }
    }
}
