import BirderIO
import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// An exclusive lock between processes on a lock file (`flock`), so that two processes that want
/// the same file download it once: the second waits, then finds the first one's verified file.
///
/// The kernel drops a `flock` when its holder exits, however it exits (SIGKILL, a crash, a power
/// loss of the process), so a lock file left behind never blocks anyone. The holder deletes the file
/// before unlocking; whoever was waiting on the deleted file notices (its inode is no longer the
/// path's) and locks the path afresh, so the deletion cannot let two processes in at once.
public final class FileLock: @unchecked Sendable {
    public let path: String
    private var descriptor: Int32

    private init(path: String, descriptor: Int32) {
        self.path = path
        self.descriptor = descriptor
    }

    /// Waits until this process holds the lock at `path` (created if missing).
    ///
    /// - onWait: called once, when another process holds the lock (before waiting).
    /// - isCancelled: asked a few times a second while waiting; true gives up with `.cancelled`.
    public static func acquire(_ path: String, isCancelled: @Sendable () -> Bool = { false },
                               onWait: () -> Void = {}) throws(LockError) -> FileLock {
        var announced = false
        while true {
            // O_NONBLOCK: a FIFO planted under the lock's name must not block `open`.
            let fd = open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC, 0o644)
            guard fd >= 0 else { throw .cannotOpen(path, String(cString: strerror(errno))) }
            var opened = stat()
            guard fstat(fd, &opened) == 0, FileContents.kindName(opened.st_mode) == nil else {
                close(fd)
                throw .cannotOpen(path, "is \(FileContents.kindName(opened.st_mode) ?? "unreadable"), not a regular file")
            }
            while flock(fd, LOCK_EX | LOCK_NB) != 0 {
                let reason = errno
                guard reason == EWOULDBLOCK || reason == EINTR else {
                    close(fd)
                    throw .cannotLock(path, String(cString: strerror(reason)))
                }
                if !announced {
                    announced = true
                    onWait()
                }
                if isCancelled() {
                    close(fd)
                    throw .cancelled(path)
                }
                usleep(100_000)
            }
            // The previous holder may have deleted (or replaced) the file while this process
            // waited on it: then the lock is on a name nobody else sees, and must be taken again.
            var current = stat()
            if stat(path, &current) == 0, current.st_dev == opened.st_dev, current.st_ino == opened.st_ino {
                return FileLock(path: path, descriptor: fd)
            }
            close(fd)
        }
    }

    /// Deletes the lock file and unlocks. Idempotent.
    public func release() {
        guard descriptor >= 0 else { return }
        unlink(path)
        close(descriptor)
        descriptor = -1
    }

    deinit { release() }
}

public enum LockError: Error, CustomStringConvertible, Equatable, Sendable {
    case cannotOpen(String, String)
    case cannotLock(String, String)
    /// Stopped on request while another process held the lock.
    case cancelled(String)

    public var description: String {
        switch self {
        case let .cannotOpen(path, reason): return "\(path): cannot open the lock file: \(reason)"
        case let .cannotLock(path, reason): return "\(path): cannot lock: \(reason)"
        case let .cancelled(path): return "\(path): interrupted while waiting for another process's download"
        }
    }
}
