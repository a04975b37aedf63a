import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The images of files and folders, as `birder predict photos/` takes them: files as given,
/// folders searched recursively for the formats the engine reads, in sorted order.
///
/// Folders are read with the file system's own bytes (`FileSystemPath`), so a photo whose name is
/// not UTF-8 is found and opened like any other. Symbolic links to files are taken; symbolic links
/// to folders are not followed (a link back up the tree would never end), as Foundation's
/// enumerator and `find` do by default.
public enum ImageCollection {
    /// File extensions of the formats the decoder reads: torchvision's list, which Birder's folder
    /// loader uses, and .pbm and .gif, which Pillow reads too.
    public static let extensions: Set<String> = ["jpg", "jpeg", "png", "webp", "bmp", "tif", "tiff", "ppm", "pgm", "pbm", "gif"]

    /// Every image path of `inputs` in order: files as given, directories expanded in sorted order.
    public static func paths(_ inputs: [String]) throws(ImageCollectionError) -> [String] {
        let found = try scan(inputs)
        guard !found.paths.isEmpty else { throw .noImages(inputs) }
        return found.paths
    }

    /// What a walk of `inputs` found: the image paths in order, the other files it passed over and
    /// the folders it could not read (each for the caller to report).
    public static func scan(_ inputs: [String]) throws(ImageCollectionError) -> ImageScan {
        var scan = ImageScan()
        for input in inputs {
            guard let info = FileSystemPath.status(of: input) else { throw .noSuchFile(input) }
            guard info.st_mode & S_IFMT == S_IFDIR else {
                scan.paths.append(input)
                continue
            }
            var found: [String] = []
            let base = input.hasSuffix("/") ? input : input + "/"
            if let reason = walk(base, into: &found, scan: &scan) { throw .unreadableDirectory(input, reason: reason) }
            scan.paths += found.sorted()
        }
        scan.skipped.sort()
        guard !scan.paths.isEmpty || !scan.unreadableFolders.isEmpty else { throw .noImages(inputs) }
        return scan
    }

    /// Adds the images below `directory` (ending in "/") to `found`; returns why `directory` itself
    /// could not be read, or nil. Unreadable subfolders are recorded in `scan`.
    private static func walk(_ directory: String, into found: inout [String], scan: inout ImageScan) -> String? {
        guard let stream = FileSystemPath.withCString(directory, { opendir($0) }) else {
            return String(cString: strerror(errno))
        }
        defer { closedir(stream) }
        var subdirectories: [String] = []
        while let entry = readdir(stream) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                FileSystemPath.string(fromBytes: raw.prefix(while: { $0 != 0 }))
            }
            if name == "." || name == ".." { continue }
            let path = directory + name
            var info = stat()
            guard FileSystemPath.withCString(path, { lstat($0, &info) }) == 0 else { continue }  // gone meanwhile
            if info.st_mode & S_IFMT == S_IFDIR {
                subdirectories.append(path)
                continue
            }
            if info.st_mode & S_IFMT == S_IFLNK {
                // A link to a folder is not followed; a dangling link is reported when opened.
                if let target = FileSystemPath.status(of: path), target.st_mode & S_IFMT == S_IFDIR { continue }
            }
            if extensions.contains((name as NSString).pathExtension.lowercased()) {
                found.append(path)
            } else if !name.hasPrefix(".") {
                scan.skipped.append(path)
            }
        }
        for subdirectory in subdirectories {
            if let reason = walk(subdirectory + "/", into: &found, scan: &scan) {
                scan.unreadableFolders.append(ImageScan.UnreadableFolder(path: subdirectory, reason: reason))
            }
        }
        return nil
    }
}

/// What `ImageCollection.scan` found.
public struct ImageScan: Sendable, Equatable {
    public struct UnreadableFolder: Sendable, Equatable {
        public let path: String
        public let reason: String
    }

    /// The images: files named as given, then each folder's images in sorted order.
    public var paths: [String] = []
    /// Files in the folders whose extension names no format the engine reads, sorted (hidden files,
    /// such as `.DS_Store`, are not counted).
    public var skipped: [String] = []
    /// Folders below the inputs that could not be read (e.g. no permission), with the reason.
    public var unreadableFolders: [UnreadableFolder] = []

    /// "3 files skipped (not an image format the engine reads: 2 .txt, 1 .gif; e.g. notes.txt)", or nil.
    public var skippedSummary: String? {
        guard let first = skipped.first else { return nil }
        var counts: [String: Int] = [:]
        for path in skipped {
            let suffix = (path as NSString).pathExtension.lowercased()
            counts[suffix.isEmpty ? "no extension" : "." + suffix, default: 0] += 1
        }
        let kinds = counts.sorted { ($0.value, $1.key) > ($1.value, $0.key) }.prefix(5).map { "\($0.value) \($0.key)" }
        let more = counts.count > 5 ? ", …" : ""
        let noun = skipped.count == 1 ? "file" : "files"
        return "\(skipped.count) \(noun) skipped (not an image format the engine reads: \(kinds.joined(separator: ", "))\(more); e.g. \(FileSystemPath.displayed(first)))"
    }
}

public enum ImageCollectionError: Error, CustomStringConvertible, Sendable, Equatable {
    case noSuchFile(String)
    case unreadableDirectory(String, reason: String)
    case noImages([String])

    public var description: String {
        switch self {
        case let .noSuchFile(path): return "\(FileSystemPath.displayed(path)): no such file or directory"
        case let .unreadableDirectory(path, reason): return "\(FileSystemPath.displayed(path)): cannot read directory: \(reason)"
        case let .noImages(inputs): return "no images found in \(inputs.map(FileSystemPath.displayed).joined(separator: ", "))"
        }
    }
}
