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

    /// The images held: the whole list, or, read for a shard, that shard's part of it.
    public let entries: [Entry]
    /// Images in the whole list.
    public let count: Int
    /// Position of `entries[0]` in the whole list.
    public let offset: Int
    /// SHA-256 (hex) of the whole list's paths in order, each followed by a line feed.
    public let listHash: String

    public var paths: [String] { entries.map(\.path) }

    public init(entries: [Entry]) {
        self.entries = entries
        count = entries.count
        offset = 0
        listHash = Self.hash(entries.lazy.map(\.path))
    }

    private init(entries: [Entry], count: Int, offset: Int, listHash: String) {
        self.entries = entries
        self.count = count
        self.offset = offset
        self.listHash = listHash
    }

    /// The manifest of a list of paths as given, without looking at the files.
    public init(paths: [String]) {
        self.init(entries: paths.map { Entry(path: $0, size: -1, modified: "") })
    }

    /// The entries of `range` (positions in the whole list), which must be among those held.
    public func entries(in range: Range<Int>) -> ArraySlice<Entry> {
        precondition(range.lowerBound >= offset && range.upperBound <= offset + entries.count, "a range the manifest holds")
        return entries[(range.lowerBound - offset)..<(range.upperBound - offset)]
    }

    /// SHA-256 (hex) of the paths in order, each followed by a line feed.
    public static func hash<S: Sequence>(_ paths: S) -> String where S.Element == String {
        var hasher = ListHasher()
        for path in paths { hasher.add(path) }
        return hasher.finish()
    }

    /// SHA-256 of paths fed one at a time, in 64 KB blocks.
    private struct ListHasher {
        private var hasher = SHA256()
        private var pending: [UInt8] = []

        mutating func add(_ path: String) {
            pending.append(contentsOf: FileSystemPath.bytes(of: path))
            pending.append(UInt8(ascii: "\n"))
            if pending.count >= 1 << 16 { flush() }
        }

        private mutating func flush() {
            pending.withUnsafeBytes { hasher.update(bufferPointer: $0) }
            pending.removeAll(keepingCapacity: true)
        }

        mutating func finish() -> String {
            flush()
            return hasher.finalize().map { String(format: "%02x", $0) }.joined()
        }
    }

    /// The images of files and folders (`ImageCollection.scan`: folders walked recursively, sorted),
    /// each with its size and modification time, and what else the walk found.
    public static func scan(_ inputs: [String]) throws -> (manifest: ImageManifest, scan: ImageScan) {
        let found = try ImageCollection.scan(inputs)
        var entries: [Entry] = []
        entries.reserveCapacity(found.paths.count)
        for path in found.paths {
            guard Self.canBeListed(path) else { throw ImageManifestError.unlistablePath(path) }
            guard let info = FileSystemPath.status(of: path) else {
                throw ImageManifestError.unreadable(path: path, reason: String(cString: strerror(errno)))
            }
            let time = info.modificationTime
            let nanoseconds = String(time.tv_nsec)
            entries.append(Entry(path: path, size: Int64(info.st_size),
                                 modified: "\(time.tv_sec).\(String(repeating: "0", count: max(0, 9 - nanoseconds.count)))\(nanoseconds)"))
        }
        return (ImageManifest(entries: entries), found)
    }

    /// Whether a path can be a line of a manifest or list: a tab or line break would split it.
    public static func canBeListed(_ path: String) -> Bool {
        !path.contains { $0 == "\t" || $0 == "\n" || $0 == "\r" || $0 == "\r\n" }
    }

    static let magic = "# birder manifest v1"

    /// The manifest as TSV (see the type's description), in pieces of about 1 MB. Paths are their
    /// exact bytes, as `find` lists them, so a name that is not UTF-8 reads back as the same file.
    public func tsvChunks(_ body: ([UInt8]) throws -> Void) rethrows {
        precondition(offset == 0 && entries.count == count, "only a whole list is written")
        var bytes = Array("\(Self.magic)\timages=\(count)\tlist-sha256=\(listHash)\npath\tsize\tmtime\n".utf8)
        for entry in entries {
            bytes += FileSystemPath.bytes(of: entry.path)
            bytes += "\t\(entry.size)\t\(entry.modified)\n".utf8
            if bytes.count >= 1 << 20 {
                try body(bytes)
                bytes.removeAll(keepingCapacity: true)
            }
        }
        try body(bytes)
    }

    /// Writes the TSV atomically (`OutputFile`).
    public func write(to path: String) throws {
        let file = try OutputFile(path: path)
        try tsvChunks { try file.write($0) }
        try file.commit()
    }

    /// A manifest written by `write`, or a plain list of paths (one per line; empty lines and lines
    /// starting with `#` are skipped). A manifest whose paths no longer match its recorded hash or
    /// count (edited, truncated) is refused. With `shard`, only that shard's entries are kept (the
    /// whole list is still read and hashed): a task of a large array holds its part, not the
    /// collection. The file is read in chunks, never whole.
    public static func read(_ path: String, shard: Shard? = nil) throws -> ImageManifest {
        var header: (count: Int, hash: String)?
        var total: Int
        if let first = try firstLine(of: path), first.hasPrefix(magic) {
            let fields = Dictionary(first.split(separator: "\t").dropFirst().compactMap { field -> (String, String)? in
                guard let equals = field.firstIndex(of: "=") else { return nil }
                return (String(field[..<equals]), String(field[field.index(after: equals)...]))
            }, uniquingKeysWith: { $1 })
            guard let count = fields["images"].flatMap(Int.init), count >= 0, let hash = fields["list-sha256"] else {
                throw ImageManifestError.invalid(path: path, reason: "the first line lacks images= or list-sha256=")
            }
            header = (count, hash)
            total = count
        } else {
            // A plain list: counted first, so a shard knows its part before keeping it.
            total = 0
            try forEachLine(of: path) { _, line in if !line.isEmpty && !line.hasPrefix("#") { total += 1 } }
        }
        let keep = shard?.range(of: total) ?? 0..<total
        var hasher = ListHasher()
        var entries: [Entry] = []
        entries.reserveCapacity(keep.count)
        var index = 0
        try forEachLine(of: path) { number, line in
            let entry: Entry
            if header != nil {
                if number == 0 { return }
                if number == 1 {
                    guard line == "path\tsize\tmtime" else {
                        throw ImageManifestError.invalid(path: path, reason: "the second line is not the column header path, size, mtime")
                    }
                    return
                }
                let columns = line.split(separator: "\t", omittingEmptySubsequences: false)
                guard columns.count == 3, !columns[0].isEmpty, let size = Int64(columns[1]) else {
                    throw ImageManifestError.invalid(path: path, reason: "line \(number + 1) is not path<TAB>size<TAB>mtime")
                }
                entry = Entry(path: String(columns[0]), size: size, modified: String(columns[2]))
            } else {
                guard !line.isEmpty, !line.hasPrefix("#") else { return }
                entry = Entry(path: line, size: -1, modified: "")
            }
            hasher.add(entry.path)
            if keep.contains(index) { entries.append(entry) }
            index += 1
        }
        let hash = hasher.finish()
        if let header, index != header.count || hash != header.hash {
            throw ImageManifestError.invalid(path: path, reason:
                "its \(index) paths do not match the recorded images=\(header.count) list-sha256=\(header.hash.prefix(12))… (edited or truncated); make it again with `birder manifest`")
        }
        guard index == total else { throw ImageManifestError.invalid(path: path, reason: "changed while it was read") }
        guard total > 0 else { throw ImageManifestError.invalid(path: path, reason: "lists no images") }
        return ImageManifest(entries: entries, count: total, offset: keep.lowerBound, listHash: hash)
    }

    private static func firstLine(of path: String) throws -> String? {
        var first: String?
        do {
            try forEachLine(of: path) { _, line in
                first = line
                throw FirstLineFound()
            }
        } catch is FirstLineFound {}
        return first
    }

    private struct FirstLineFound: Error {}

    /// Each line of a text file (without its line break, a trailing CR dropped) with its number
    /// from 0, read in chunks.
    private static func forEachLine(of path: String, _ body: (Int, String) throws -> Void) throws {
        var carry: [UInt8] = []
        var number = 0
        func emit(_ bytes: UnsafeRawBufferPointer) throws {
            var line = bytes
            if line.last == UInt8(ascii: "\r") { line = UnsafeRawBufferPointer(rebasing: line.dropLast()) }
            try body(number, FileSystemPath.string(fromBytes: line))
            number += 1
        }
        try FileContents.forEachChunk(of: path) { chunk in
            var start = 0
            for i in 0..<chunk.count where chunk[i] == UInt8(ascii: "\n") {
                if carry.isEmpty {
                    try emit(UnsafeRawBufferPointer(rebasing: chunk[start..<i]))
                } else {
                    carry.append(contentsOf: chunk[start..<i])
                    try carry.withUnsafeBytes { try emit($0) }
                    carry.removeAll(keepingCapacity: true)
                }
                start = i + 1
            }
            carry.append(contentsOf: chunk[start...])
        }
        if !carry.isEmpty { try carry.withUnsafeBytes { try emit($0) } }
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
