#if canImport(Darwin)
import Darwin
#elseif canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// A file written sequentially into a temporary name beside the destination and renamed into
/// place on `commit()`, so a failed write never leaves a half-written weights file behind.
final class OutputFile {
    let path: String
    private let temporaryPath: String
    private var fd: Int32
    private(set) var offset: Int = 0

    init(path: String) throws(BirderIOError) {
        self.path = path
        temporaryPath = path + ".partial-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        // A fresh name, created here: O_EXCL and O_NOFOLLOW refuse a FIFO or link planted under it
        // (opening a FIFO for writing would block until a reader came).
        fd = open(temporaryPath, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw .io(path: path, reason: "cannot create: \(FileContents.errnoText())") }
    }

    deinit {
        if fd >= 0 {
            close(fd)
            unlink(temporaryPath)
        }
    }

    func write(_ bytes: UnsafeRawBufferPointer) throws(BirderIOError) {
        var done = 0
        while done < bytes.count {
            let n = systemWrite(fd, bytes.baseAddress! + done, bytes.count - done)
            if n < 0 {
                if errno == EINTR { continue }
                throw .io(path: path, reason: "write failed: \(FileContents.errnoText())")
            }
            done += n
        }
        offset += bytes.count
    }

    func write(_ bytes: [UInt8]) throws(BirderIOError) {
        try withBytes(bytes) { (raw) throws(BirderIOError) in try write(raw) }
    }

    func writeZeros(_ count: Int) throws(BirderIOError) {
        if count > 0 { try write([UInt8](repeating: 0, count: count)) }
    }

    func commit() throws(BirderIOError) {
        let result = close(fd)
        fd = -1
        guard result == 0 else {
            unlink(temporaryPath)
            throw .io(path: path, reason: "close failed: \(FileContents.errnoText())")
        }
        guard rename(temporaryPath, path) == 0 else {
            let reason = FileContents.errnoText()
            unlink(temporaryPath)
            throw .io(path: path, reason: "cannot rename into place: \(reason)")
        }
    }
}

@inline(__always)
private func systemWrite(_ fd: Int32, _ pointer: UnsafeRawPointer, _ count: Int) -> Int {
    #if canImport(Darwin)
    return Darwin.write(fd, pointer, count)
    #elseif canImport(Glibc)
    return Glibc.write(fd, pointer, count)
    #else
    return Musl.write(fd, pointer, count)
    #endif
}
