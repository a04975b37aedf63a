#if canImport(Darwin)
import Darwin
#elseif canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// A whole file mapped into memory, copy-on-write and private: tensors can borrow its pages
/// without a copy, and a stray write through a borrowed tensor can never reach the file on disk
/// (nor fault, as a read-only mapping would).
public final class MappedFile: @unchecked Sendable {
    public let path: String
    /// Start of the mapping; nil for an empty file (mmap refuses zero lengths).
    private let base: UnsafeMutableRawPointer?
    public let count: Int

    public init(path: String) throws(BirderIOError) {
        self.path = path
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else { throw .io(path: path, reason: "cannot open: \(Self.errnoText())") }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else { throw .io(path: path, reason: "cannot stat: \(Self.errnoText())") }
        guard (info.st_mode & S_IFMT) == S_IFREG else { throw .io(path: path, reason: "not a regular file") }
        let size = Int(info.st_size)
        count = size
        if size == 0 {
            base = nil
            return
        }
        let pointer = mmap(nil, size, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0)
        guard let pointer, pointer != MAP_FAILED else {
            throw .io(path: path, reason: "cannot map \(size) bytes: \(Self.errnoText())")
        }
        base = pointer
    }

    deinit {
        if let base { munmap(base, count) }
    }

    public var bytes: UnsafeRawBufferPointer { UnsafeRawBufferPointer(start: base, count: count) }

    /// Writable view of the private mapping, for handing Float pointers to borrowed tensors.
    var mutableBase: UnsafeMutableRawPointer? { base }

    static func errnoText() -> String { String(cString: strerror(errno)) }
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
