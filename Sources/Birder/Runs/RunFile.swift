import BirderIO
import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Where a run's bytes go as it writes them.
package protocol RunSink: AnyObject {
    /// The output's name in messages.
    var path: String { get }
    /// Bytes written so far (after a resume: including those kept from before).
    var length: Int { get }
    /// Whether a journal can record this sink and a later run continue it (a regular file).
    var isResumable: Bool { get }
    func append(_ bytes: UnsafeRawBufferPointer) throws
    /// Makes everything appended so far durable.
    func sync() throws
    /// Completes the output (renamed or delivered into place).
    func commit() throws
    /// Abandons it: nothing is left where the output is looked for.
    func discard()
}

extension RunSink {
    package func append(_ bytes: [UInt8]) throws { try bytes.withUnsafeBytes { try append($0) } }
    package func append(_ text: String) throws { try append(Array(text.utf8)) }
}

/// A run's output file as it grows: `FINAL.partial` beside the destination until it is complete,
/// then renamed onto it. The partial file survives an interruption (a signal, a kill, a node
/// failure) so that a run can continue it from the length its journal recorded.
///
/// A destination that is a FIFO or a device (written through, never replaced) is spooled instead:
/// the partial lives in the system's temporary directory, is removed if the process is stopped,
/// and is copied to the destination when complete; such a run cannot be resumed.
package final class PartialFile: RunSink {
    package let path: String
    /// The file being written.
    package let partialPath: String
    private let destination: OutputFile.Target
    private var fd: Int32 = -1
    package private(set) var length = 0
    package var isResumable: Bool { destination != .direct }
    /// Appends not yet written: rows are small, and one write call per row would dominate.
    private var buffer: [UInt8] = []
    private static let bufferCapacity = 1 << 20

    /// A partial file for `path`, started empty (replacing a stale one) or, with `resumingAt`, the
    /// one a journal recorded, cut back to that length (bytes written after the journal's last
    /// record belong to images that will be processed again).
    /// - spooled: kept in the temporary directory whatever the destination is (a part from which
    ///   the output is assembled at the end, beside a destination that is a device).
    package init(for path: String, resumingAt recordedLength: Int? = nil, spooled: Bool = false) throws {
        self.path = path
        destination = spooled ? .direct : try OutputFile.target(for: path)
        switch destination {
        case let .atomic(finalPath):
            partialPath = finalPath + ".partial"
        case .direct:
            precondition(recordedLength == nil, "a spooled output is never resumed")
            let name = "birder-\(getpid())-\(String(UInt32.random(in: 0...UInt32.max), radix: 16)).partial"
            partialPath = (NSTemporaryDirectory() as NSString).appendingPathComponent(name)
        }
        var info = stat()
        if lstat(partialPath, &info) == 0, info.st_mode & S_IFMT != S_IFREG {
            throw RunError.io(path: partialPath, reason: "exists and is not a regular file; refusing to write over it")
        }
        if let recordedLength {
            fd = open(partialPath, O_RDWR | O_NOFOLLOW | O_CLOEXEC)
            guard fd >= 0 else {
                throw RunError.io(path: partialPath, reason: "cannot reopen the interrupted run's output: \(String(cString: strerror(errno)))")
            }
            guard fstat(fd, &info) == 0, info.st_size >= recordedLength else {
                close(fd)
                fd = -1
                throw RunError.io(path: partialPath, reason:
                    "holds \(info.st_size) bytes, fewer than the \(recordedLength) its journal records; the interrupted run cannot be continued (remove it and its journal to start again)")
            }
            guard ftruncate(fd, off_t(recordedLength)) == 0, lseek(fd, off_t(recordedLength), SEEK_SET) >= 0 else {
                let reason = String(cString: strerror(errno))
                close(fd)
                fd = -1
                throw RunError.io(path: partialPath, reason: "cannot cut back to \(recordedLength) bytes: \(reason)")
            }
            length = recordedLength
        } else {
            let open: () -> Int32 = { [partialPath] in
                posixOpen(partialPath, O_RDWR | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0o644)
            }
            // A spool is removed if a signal stops the process; a resumable partial is kept.
            fd = isResumable ? open() : TemporaryFiles.create(partialPath, open)
            guard fd >= 0 else {
                throw RunError.io(path: partialPath, reason: "cannot create: \(String(cString: strerror(errno)))")
            }
        }
    }

    deinit { if fd >= 0 { close(fd) } }

    package func append(_ bytes: UnsafeRawBufferPointer) throws {
        if buffer.count + bytes.count > Self.bufferCapacity { try flush() }
        if bytes.count >= Self.bufferCapacity {
            try write(bytes, at: nil)
        } else {
            buffer.append(contentsOf: bytes)
        }
        length += bytes.count
    }

    private func flush() throws {
        guard !buffer.isEmpty else { return }
        try buffer.withUnsafeBytes { try write($0, at: nil) }
        buffer.removeAll(keepingCapacity: true)
    }

    /// Overwrites bytes already written (a header whose row count is known only at the end).
    package func overwrite(_ bytes: [UInt8], at offset: Int) throws {
        precondition(offset + bytes.count <= length, "overwrite within what was written")
        try flush()
        try bytes.withUnsafeBytes { try write($0, at: offset) }
    }

    private func write(_ bytes: UnsafeRawBufferPointer, at offset: Int?) throws {
        guard fd >= 0 else { throw RunError.io(path: partialPath, reason: "write after the file was closed") }
        var done = 0
        while done < bytes.count {
            let pointer = bytes.baseAddress! + done, count = bytes.count - done
            let n = offset.map { pwrite(fd, pointer, count, off_t($0 + done)) } ?? systemWrite(fd, pointer, count)
            if n < 0 {
                if errno == EINTR { continue }
                throw RunError.io(path: path, reason: "write failed: \(String(cString: strerror(errno)))")
            }
            done += n
        }
    }

    /// Reads back `count` bytes at `offset` (an output assembled from its parts at the end).
    package func read(at offset: Int, count: Int) throws -> [UInt8] {
        try flush()
        var bytes = [UInt8](repeating: 0, count: count)
        var done = 0
        while done < count {
            let n = bytes.withUnsafeMutableBytes { pread(fd, $0.baseAddress! + done, count - done, off_t(offset + done)) }
            if n < 0, errno == EINTR { continue }
            guard n > 0 else { throw RunError.io(path: partialPath, reason: "read failed: \(n < 0 ? String(cString: strerror(errno)) : "unexpected end")") }
            done += n
        }
        return bytes
    }

    package func sync() throws {
        try flush()
        guard fd >= 0, isResumable else { return }
        guard fsync(fd) == 0 else { throw RunError.io(path: path, reason: "cannot flush: \(String(cString: strerror(errno)))") }
    }

    package func commit() throws {
        guard fd >= 0 else { throw RunError.io(path: path, reason: "commit after the file was closed") }
        try flush()
        switch destination {
        case let .atomic(finalPath):
            guard fsync(fd) == 0 else { throw RunError.io(path: path, reason: "cannot flush: \(String(cString: strerror(errno)))") }
            close(fd)
            fd = -1
            guard rename(partialPath, finalPath) == 0 else {
                throw RunError.io(path: path, reason: "cannot rename \(partialPath) into place: \(String(cString: strerror(errno)))")
            }
        case .direct:
            let target = try OutputFile(path: path)
            var offset = 0
            while offset < length {
                let chunk = try read(at: offset, count: min(1 << 20, length - offset))
                try target.write(chunk)
                offset += chunk.count
            }
            try target.commit()
            discard()
        }
    }

    package func discard() {
        buffer = []
        if fd >= 0 { close(fd) }
        fd = -1
        if isResumable { unlink(partialPath) } else { TemporaryFiles.remove(partialPath) }
    }
}

/// Standard output, or a device or FIFO written through as rows come (`predict` piped into
/// another program sees each batch at once); never resumable.
package final class StreamSink: RunSink {
    package let path: String
    private let file: OutputFile?
    package private(set) var length = 0
    package var isResumable: Bool { false }

    /// Standard output.
    package init() {
        path = "<stdout>"
        file = nil
    }

    /// A device or FIFO (`OutputFile.Target.direct`).
    package init(direct path: String) throws {
        self.path = path
        file = try OutputFile(path: path)
    }

    package func append(_ bytes: UnsafeRawBufferPointer) throws {
        if let file {
            try file.write(bytes)
        } else {
            do { try FileHandle.standardOutput.write(contentsOf: Data(bytes)) } catch {
                throw RunError.io(path: path, reason: "write failed: \(error.localizedDescription)")
            }
        }
        length += bytes.count
    }

    package func sync() throws {}
    package func commit() throws { try file?.commit() }
    package func discard() { file?.discard() }
}

@inline(__always)
private func posixOpen(_ path: String, _ flags: Int32, _ mode: mode_t) -> Int32 {
    #if canImport(Glibc)
    return Glibc.open(path, flags, mode)
    #else
    return Darwin.open(path, flags, mode)
    #endif
}
