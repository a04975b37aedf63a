import BirderIO
import Crypto
import Foundation

/// The work list of a run: image paths in the order their rows are written, fixed once so that a
/// collection too large to walk each time is listed once, and so that shards and resumed runs agree
/// on which image is row `i`.
///
/// On disk (`birder manifest`) it is a TSV file:
///
///     # birder manifest v1	images=3	list-sha256=5d1f…
///     path	size	mtime
///     photos/a.jpg	63306	1732931340.123456789
///
/// `listHash` covers the paths only, in order (SHA-256 of each path and a line feed), so a plain
/// list of the same paths names the same work; size and modification time are recorded for the
/// user (what the collection was when it was listed).
public struct ImageManifest: Sendable, Equatable {
    public struct Entry: Sendable, Equatable {
        public let path: String
        /// Bytes, or -1 when unknown (a plain list).
        public let size: Int64
        /// Modification time as `seconds.nanoseconds`, or "" when unknown (a plain list).
        public let modified: String
    }

    public let entries: [Entry]
    /// SHA-256 (hex) of the paths in order, each followed by a line feed.
    public let listHash: String

    public var paths: [String] { entries.map(\.path) }
    public var count: Int { entries.count }

    public init(entries: [Entry]) {
        self.entries = entries
        listHash = Self.hash(entries.lazy.map(\.path))
    }

    /// The manifest of a list of paths as given, without looking at the files.
    public init(paths: [String]) {
        self.init(entries: paths.map { Entry(path: $0, size: -1, modified: "") })
    }

    /// SHA-256 (hex) of the paths in order, each followed by a line feed.
    public static func hash<S: Sequence>(_ paths: S) -> String where S.Element == String {
        var hasher = SHA256()
        for path in paths { hasher.update(data: Data((path + "\n").utf8)) }
        return hasher.finalize().map { String(format: "%02x", $0) }.joined()
    }

    /// The images of files and folders (`ImageCollection.scan`: folders walked recursively, sorted),
    /// each with its size and modification time, and apart the names that cannot be opened.
    public static func scan(_ inputs: [String]) throws -> (manifest: ImageManifest, unopenable: [String]) {
        let found = try ImageCollection.scan(inputs)
        var entries: [Entry] = []
        entries.reserveCapacity(found.paths.count)
        for path in found.paths {
            guard Self.canBeListed(path) else { throw ImageManifestError.unlistablePath(path) }
            var info = stat()
            guard stat(path, &info) == 0 else {
                throw ImageManifestError.unreadable(path: path, reason: String(cString: strerror(errno)))
            }
            #if canImport(Darwin)
            let time = info.st_mtimespec
            #else
            let time = info.st_mtim
            #endif
            let nanoseconds = String(time.tv_nsec)
            entries.append(Entry(path: path, size: Int64(info.st_size),
                                 modified: "\(time.tv_sec).\(String(repeating: "0", count: max(0, 9 - nanoseconds.count)))\(nanoseconds)"))
        }
        return (ImageManifest(entries: entries), found.unopenable)
    }

    /// Whether a path can be a line of a manifest or list: a tab or line break would split it.
    public static func canBeListed(_ path: String) -> Bool {
        !path.contains { $0 == "\t" || $0 == "\n" || $0 == "\r" || $0 == "\r\n" }
    }

    static let magic = "# birder manifest v1"

    /// The manifest as TSV text (see the type's description).
    public var tsv: String {
        var text = "\(Self.magic)\timages=\(count)\tlist-sha256=\(listHash)\npath\tsize\tmtime\n"
        for entry in entries { text += "\(entry.path)\t\(entry.size)\t\(entry.modified)\n" }
        return text
    }

    /// Writes the TSV atomically (`OutputFile`).
    public func write(to path: String) throws {
        let file = try OutputFile(path: path)
        try file.write(Array(tsv.utf8))
        try file.commit()
    }

    /// A manifest written by `write`, or a plain list of paths (one per line; empty lines and lines
    /// starting with `#` are skipped). A manifest whose paths no longer match its recorded hash or
    /// count (edited, truncated) is refused.
    public static func read(_ path: String) throws -> ImageManifest {
        let file = try FileContents(path: path)
        let text = file.text
        var lines = text.split(separator: "\n", omittingEmptySubsequences: false).map { line in
            line.hasSuffix("\r") ? line.dropLast() : line
        }
        if lines.last == "" { lines.removeLast() }
        guard let first = lines.first, first.hasPrefix(magic) else {
            let paths = lines.filter { !$0.isEmpty && !$0.hasPrefix("#") }.map(String.init)
            guard !paths.isEmpty else { throw ImageManifestError.invalid(path: path, reason: "lists no images") }
            return ImageManifest(paths: paths)
        }
        let fields = Dictionary(first.split(separator: "\t").dropFirst().compactMap { field -> (String, String)? in
            guard let equals = field.firstIndex(of: "=") else { return nil }
            return (String(field[..<equals]), String(field[field.index(after: equals)...]))
        }, uniquingKeysWith: { $1 })
        guard let recordedCount = fields["images"].flatMap(Int.init), let recordedHash = fields["list-sha256"] else {
            throw ImageManifestError.invalid(path: path, reason: "the first line lacks images= or list-sha256=")
        }
        guard lines.count >= 2, lines[1] == "path\tsize\tmtime" else {
            throw ImageManifestError.invalid(path: path, reason: "the second line is not the column header path, size, mtime")
        }
        var entries: [Entry] = []
        entries.reserveCapacity(lines.count - 2)
        for (number, line) in lines.dropFirst(2).enumerated() {
            let columns = line.split(separator: "\t", omittingEmptySubsequences: false)
            guard columns.count == 3, !columns[0].isEmpty, let size = Int64(columns[1]) else {
                throw ImageManifestError.invalid(path: path, reason: "line \(number + 3) is not path<TAB>size<TAB>mtime")
            }
            entries.append(Entry(path: String(columns[0]), size: size, modified: String(columns[2])))
        }
        let manifest = ImageManifest(entries: entries)
        guard manifest.count == recordedCount, manifest.listHash == recordedHash else {
            throw ImageManifestError.invalid(path: path, reason:
                "its \(manifest.count) paths do not match the recorded images=\(recordedCount) list-sha256=\(recordedHash.prefix(12))… (edited or truncated); make it again with `birder manifest`")
        }
        guard !entries.isEmpty else { throw ImageManifestError.invalid(path: path, reason: "lists no images") }
        return manifest
    }
}

public enum ImageManifestError: Error, CustomStringConvertible, Sendable, Equatable {
    case unlistablePath(String)
    case unreadable(path: String, reason: String)
    case invalid(path: String, reason: String)

    public var description: String {
        switch self {
        case let .unlistablePath(path):
            let shown = path.replacingOccurrences(of: "\n", with: "\\n").replacingOccurrences(of: "\r", with: "\\r")
                .replacingOccurrences(of: "\t", with: "\\t")
            return "\(shown): a file name with a tab or line break cannot be listed in a manifest; rename the file"
        case let .unreadable(path, reason): return "\(path): \(reason)"
        case let .invalid(path, reason): return "\(path): not a usable manifest or list of images: \(reason)"
        }
    }
}
