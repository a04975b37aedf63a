import BirderCore
#if canImport(Darwin)
import Darwin
#elseif canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// A whole file read into memory this process owns (64-byte aligned), so tensors can borrow its
/// bytes without a copy. Reading (`pread`) rather than mapping means a file truncated or rewritten
/// while a model runs cannot fault the process (SIGBUS on a mapping): it keeps the bytes it read.
/// Only regular files are read; FIFOs, devices, directories and sockets are refused without
/// blocking.
package final class FileContents: @unchecked Sendable {
    package let path: String
    /// Start of the bytes; nil for an empty file.
    private let base: UnsafeMutableRawPointer?
    package let count: Int

    /// Bytes read first, so a file that is plainly not of the expected kind is refused before the
    /// rest of it is read (a multi-gigabyte video given as a model).
    static let prefixLength = 512

    /// Reads the whole file. `checkPrefix` sees its first `prefixLength` bytes (fewer for short
    /// files) and the total size before the rest is read, and may refuse the file.
    package init(path: String,
                checkPrefix: ((UnsafeRawBufferPointer, Int) throws(BirderIOError) -> Void)? = nil) throws(BirderIOError) {
        self.path = path
        let file = try RegularFile(path: path)
        defer { file.close() }
        let size = file.size
        count = size
        guard size > 0 else {
            base = nil
            try checkPrefix?(UnsafeRawBufferPointer(start: nil, count: 0), 0)
            return
        }
        let physical = RegularFile.physicalMemory
        if physical > 0, size > physical {
            throw .io(path: path, reason: "file of \(size) bytes is larger than this machine's memory (\(physical) bytes)")
        }
        var pointer: UnsafeMutableRawPointer?
        guard posix_memalign(&pointer, 64, size) == 0, let pointer else {
            throw .io(path: path, reason: "cannot allocate \(size) bytes to read the file")
        }
        base = pointer
        // From here `deinit` frees the buffer whatever is thrown.
        let head = min(size, Self.prefixLength)
        try file.read(into: pointer, count: head, at: 0)
        try checkPrefix?(UnsafeRawBufferPointer(start: pointer, count: head), size)
        try file.read(into: pointer + head, count: size - head, at: head)
        try file.checkUnchanged()
    }

    /// A copy of bytes already in memory, read as if from `path` (tests and fuzzing).
    init(path: String, copying bytes: UnsafeRawBufferPointer) {
        self.path = path
        count = bytes.count
        if bytes.isEmpty {
            base = nil
        } else {
            var pointer: UnsafeMutableRawPointer?
            guard posix_memalign(&pointer, 64, bytes.count) == 0, let pointer else {
                fatalError("FileContents: cannot allocate \(bytes.count) bytes")
            }
            pointer.copyMemory(from: bytes.baseAddress!, byteCount: bytes.count)
            base = pointer
        }
    }

    deinit { free(base) }

    package var bytes: UnsafeRawBufferPointer { UnsafeRawBufferPointer(start: base, count: count) }

    /// A copy of the bytes (small text files: lists, records). `bytes` is valid only while this
    /// object lives, which Swift may end right after the last use of the object itself.
    package var byteArray: [UInt8] { withExtendedLifetime(self) { Array(bytes) } }

    /// The bytes as UTF-8 text (invalid sequences replaced).
    package var text: String { withExtendedLifetime(self) { String(decoding: bytes, as: UTF8.self) } }

    /// Reads a regular file (or the bytes of `range` in it) front to back in chunks of at most
    /// `chunkSize` bytes, holding one chunk at a time (lists of millions of paths, shards of
    /// gigabytes), refusing what `init` refuses.
    package static func forEachChunk(of path: String, in range: Range<Int>? = nil, chunkSize: Int = 1 << 20,
                                     _ body: (UnsafeRawBufferPointer) throws -> Void) throws {
        let file = try RegularFile(path: path)
        defer { file.close() }
        let range = range ?? 0..<file.size
        guard range.lowerBound >= 0, range.upperBound <= file.size else {
            throw BirderIOError.io(path: path, reason: "holds \(file.size) bytes, bytes \(range.lowerBound)..<\(range.upperBound) were expected")
        }
        let buffer = UnsafeMutableRawPointer.allocate(byteCount: chunkSize, alignment: 64)
        defer { buffer.deallocate() }
        var offset = range.lowerBound
        while offset < range.upperBound {
            let count = min(chunkSize, range.upperBound - offset)
            try file.read(into: buffer, count: count, at: offset)
            try body(UnsafeRawBufferPointer(start: buffer, count: count))
            offset += count
        }
        try file.checkUnchanged()
    }

    /// The size of the regular file at `path`, refusing what `init` would refuse, without reading it.
    package static func size(of path: String) throws(BirderIOError) -> Int {
        let file = try RegularFile(path: path)
        defer { file.close() }
        return file.size
    }

    static func errnoText(_ code: Int32 = errno) -> String { String(cString: strerror(code)) }
}

/// An open regular file. Opening is non-blocking so a FIFO with no writer (or a device) cannot
/// hang `open()`; anything but a regular file is refused by `fstat` before a byte is read.
struct RegularFile {
    let path: String
    let fd: Int32
    let size: Int
    private let modified: timespec

    init(path: String) throws(BirderIOError) {
        self.path = path
        var fd: Int32
        repeat {
            fd = FileSystemPath.withCString(path) { open($0, O_RDONLY | O_NONBLOCK | O_CLOEXEC) }
        } while fd < 0 && errno == EINTR
        guard fd >= 0 else {
            let code = errno
            // A socket cannot be opened at all (ENXIO); say what it is rather than the errno text.
            if let info = FileSystemPath.status(of: path), let kind = Self.kindName(info.st_mode) {
                throw .io(path: path, reason: "is \(kind), not a regular file")
            }
            throw .io(path: path, reason: "cannot open: \(FileContents.errnoText(code))")
        }
        var info = stat()
        guard fstat(fd, &info) == 0 else {
            let reason = FileContents.errnoText()
            _ = systemClose(fd)
            throw .io(path: path, reason: "cannot stat: \(reason)")
        }
        if let kind = Self.kindName(info.st_mode) {
            _ = systemClose(fd)
            throw .io(path: path, reason: "is \(kind), not a regular file")
        }
        self.fd = fd
        size = Int(info.st_size)
        modified = info.modificationTime
    }

    func close() { _ = systemClose(fd) }

    /// Fills `count` bytes from `offset`; a file that ends early changed while being read.
    func read(into destination: UnsafeMutableRawPointer, count: Int, at offset: Int) throws(BirderIOError) {
        var done = 0
        while done < count {
            // Linux transfers at most 0x7FFFF000 bytes per call.
            let n = pread(fd, destination + done, min(count - done, 1 << 30), off_t(offset + done))
            if n < 0 {
                if errno == EINTR { continue }
                throw .io(path: path, reason: "read failed: \(FileContents.errnoText())")
            }
            if n == 0 {
                throw .io(path: path, reason:
                    "file shrank while being read (\(offset + done) of \(size) bytes read); was it being written?")
            }
            done += n
        }
    }

    /// A file rewritten or resized while being read gives bytes from two versions: refuse it.
    func checkUnchanged() throws(BirderIOError) {
        var info = stat()
        guard fstat(fd, &info) == 0 else { throw .io(path: path, reason: "cannot stat: \(FileContents.errnoText())") }
        let now = info.modificationTime
        guard Int(info.st_size) == size, now.tv_sec == modified.tv_sec, now.tv_nsec == modified.tv_nsec else {
            throw .io(path: path, reason: "file changed while being read (size \(size) → \(info.st_size) bytes); was it being written?")
        }
    }

    /// What a non-regular file is, in words; nil for a regular file.
    static func kindName(_ mode: mode_t) -> String? {
        switch mode & S_IFMT {
        case S_IFREG: return nil
        case S_IFDIR: return "a directory"
        case S_IFIFO: return "a FIFO (named pipe)"
        case S_IFCHR: return "a character device"
        case S_IFBLK: return "a block device"
        case S_IFSOCK: return "a socket"
        default: return "a special file"
        }
    }

    /// Physical memory in bytes (0 when unknown).
    static var physicalMemory: Int {
        let pages = sysconf(Int32(_SC_PHYS_PAGES)), pageSize = sysconf(Int32(_SC_PAGESIZE))
        guard pages > 0, pageSize > 0 else { return 0 }
        let (total, overflow) = pages.multipliedReportingOverflow(by: pageSize)
        return overflow ? Int.max : total
    }
}

/// Memory owned by a buffer of bytes built in Swift (tensors created in code, writers' inputs).
final class OwnedBytes: @unchecked Sendable {
    let base: UnsafeMutableRawPointer
    let count: Int

    /// Zero-filled, 64-byte aligned.
    init(count: Int) {
        self.count = count
        // Raw copies only: the memory stays unbound, so tensors may bind it to Float.
        base = UnsafeMutableRawPointer.allocate(byteCount: max(count, 1), alignment: 64)
        memset(base, 0, max(count, 1))
    }

    convenience init(_ bytes: some Collection<UInt8>) {
        self.init(count: bytes.count)
        UnsafeMutableRawBufferPointer(start: base, count: count).copyBytes(from: bytes)
    }

    deinit { base.deallocate() }
}

@inline(__always)
private func systemClose(_ fd: Int32) -> Int32 {
    #if canImport(Darwin)
    return Darwin.close(fd)
    #elseif canImport(Glibc)
    return Glibc.close(fd)
    #else
    return Musl.close(fd)
    #endif
}

extension FileContents {
    /// What a non-regular file is, in words ("a FIFO (named pipe)", …); nil for a regular file.
    package static func kindName(_ mode: mode_t) -> String? { RegularFile.kindName(mode) }
}
