import BirderCore
#if canImport(Darwin)
import Darwin
#elseif canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// A file written sequentially. A regular file (or a new name) is written into a hidden temporary
/// `.NAME.tmp-PID-RANDOM` beside it and renamed into place on `commit()`, so a failed or
/// interrupted write never leaves a half-written file where the result is looked for; the
/// temporary is registered with `TemporaryFiles` so a signal handler can remove it too.
///
/// What the destination already is decides how it is written (`OutputFile.target(for:)`):
/// - a character device or FIFO (`/dev/null`, `/dev/stdout` on a pipe, a named pipe) is written
///   through, never replaced by a regular file; opening a FIFO waits for a reader, as a shell
///   redirection does;
/// - a symbolic link is followed on purpose: the result is written atomically in the directory of
///   the file it points to and renamed onto that file, so the link stays a link (a link to a
///   missing file is refused rather than guessed at);
/// - a directory, block device or socket is refused before anything is written.
package final class OutputFile {
    /// The destination as given (messages name it).
    package let path: String
    /// Where the temporary is renamed to: `path`, or the file a symbolic link points to.
    private let finalPath: String
    /// nil when writing through to a device or FIFO.
    private let temporaryPath: String?
    private var fd: Int32
    private(set) var offset: Int = 0

    /// How a destination is written.
    package enum Target: Equatable, Sendable {
        /// Written into a temporary beside `finalPath` and renamed onto it.
        case atomic(finalPath: String)
        /// Written through (a character device or FIFO).
        case direct
    }

    /// What writing to `path` would do, refusing what must not be written, without creating or
    /// opening anything (commands call it before the work starts).
    package static func target(for path: String) throws(BirderIOError) -> Target {
        guard !path.isEmpty else { throw .io(path: path, reason: "empty output path") }
        // Inputs keep raw bytes (FileSystemPath); outputs are named by the user, so a UTF-8 name is asked for
        // rather than carrying the bytes through every step of the atomic write and the signal cleanup.
        guard !FileSystemPath.holdsRawBytes(path) else {
            throw .io(path: FileSystemPath.displayed(path), reason: "an output name that is not UTF-8 is not supported; choose a UTF-8 name")
        }
        var info = stat()
        if lstat(path, &info) != 0 {
            let code = errno
            guard code == ENOENT else { throw .io(path: path, reason: "cannot stat: \(FileContents.errnoText(code))") }
            try checkDirectory(of: path)
            return .atomic(finalPath: path)
        }
        if info.st_mode & S_IFMT == S_IFLNK {
            var target = stat()
            guard stat(path, &target) == 0 else {
                throw .io(path: path, reason: "is a symbolic link to a missing file; refusing to follow it (remove the link or name its target)")
            }
            if let direct = try directKind(target.st_mode, path: path) { return direct }
            guard let resolved = realpath(path, nil) else {
                throw .io(path: path, reason: "cannot resolve the symbolic link: \(FileContents.errnoText())")
            }
            defer { free(resolved) }
            let finalPath = String(cString: resolved)
            try checkDirectory(of: finalPath, naming: path)
            return .atomic(finalPath: finalPath)
        }
        if let direct = try directKind(info.st_mode, path: path) { return direct }
        try checkDirectory(of: path)
        return .atomic(finalPath: path)
    }

    /// `.direct` for a character device or FIFO, nil for a regular file; refuses the rest.
    private static func directKind(_ mode: mode_t, path: String) throws(BirderIOError) -> Target? {
        switch mode & S_IFMT {
        case S_IFREG: return nil
        case S_IFCHR, S_IFIFO: return .direct
        default:
            let kind = RegularFile.kindName(mode) ?? "a special file"
            throw .io(path: path, reason: "is \(kind), not a regular file; refusing to write over it")
        }
    }

    /// The directory `path` would be created in must exist and be writable.
    private static func checkDirectory(of path: String, naming shown: String? = nil) throws(BirderIOError) {
        let directory = directoryName(path)
        var info = stat()
        guard stat(directory, &info) == 0, info.st_mode & S_IFMT == S_IFDIR else {
            throw .io(path: shown ?? path, reason: "directory \(directory) does not exist")
        }
        guard access(directory, W_OK) == 0 else {
            throw .io(path: shown ?? path, reason: "cannot write in \(directory): \(FileContents.errnoText())")
        }
    }

    package static func directoryName(_ path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        let directory = String(path[..<slash])
        return directory.isEmpty ? "/" : directory
    }

    package init(path: String) throws(BirderIOError) {
        self.path = path
        switch try Self.target(for: path) {
        case .direct:
            finalPath = path
            temporaryPath = nil
            var fd: Int32
            repeat { fd = open(path, O_WRONLY | O_CLOEXEC) } while fd < 0 && errno == EINTR
            guard fd >= 0 else { throw .io(path: path, reason: "cannot open for writing: \(FileContents.errnoText())") }
            self.fd = fd
        case let .atomic(finalPath):
            self.finalPath = finalPath
            let directory = Self.directoryName(finalPath)
            let name = finalPath[finalPath.index(after: finalPath.lastIndex(of: "/") ?? finalPath.startIndex)...]
            let base = finalPath.contains("/") ? String(name) : finalPath
            let temporary = "\(directory)/.\(base).tmp-\(getpid())-\(String(UInt32.random(in: 0...UInt32.max), radix: 16))"
            temporaryPath = temporary
            // A fresh name, created here: O_EXCL and O_NOFOLLOW refuse a FIFO or link planted under it
            // (opening a FIFO for writing would block until a reader came).
            fd = TemporaryFiles.create(temporary) {
                open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o644)
            }
            guard fd >= 0 else {
                throw .io(path: path, reason: "cannot create a temporary file in \(directory): \(FileContents.errnoText())")
            }
        }
    }

    deinit { discard() }

    /// Whether the output is written through (a device or FIFO) rather than renamed into place.
    package var isDirect: Bool { temporaryPath == nil }

    package func write(_ bytes: UnsafeRawBufferPointer) throws(BirderIOError) {
        guard fd >= 0 else { throw .io(path: path, reason: "write after the file was closed") }
        var done = 0
        while done < bytes.count {
            let n = systemWrite(fd, bytes.baseAddress! + done, bytes.count - done)
            if n < 0 {
                if errno == EINTR { continue }
                // EFBIG (`ulimit -f`; SIGXFSZ is ignored by the command line), ENOSPC, EIO…
                let reason = FileContents.errnoText()
                discard()
                throw .io(path: path, reason: "write failed: \(reason)")
            }
            done += n
        }
        offset += bytes.count
    }

    package func write(_ bytes: [UInt8]) throws(BirderIOError) {
        try withBytes(bytes) { (raw) throws(BirderIOError) in try write(raw) }
    }

    func writeZeros(_ count: Int) throws(BirderIOError) {
        if count > 0 { try write([UInt8](repeating: 0, count: count)) }
    }

    /// Moves the finished file into place (closes a device or FIFO).
    package func commit() throws(BirderIOError) {
        guard fd >= 0 else { throw .io(path: path, reason: "commit after the file was closed") }
        // Data reaches the disk before the rename makes it visible under the destination's name.
        if temporaryPath != nil, fsync(fd) != 0 {
            let reason = FileContents.errnoText()
            discard()
            throw .io(path: path, reason: "cannot flush: \(reason)")
        }
        let result = close(fd)
        fd = -1
        guard let temporaryPath else {
            guard result == 0 else { throw .io(path: path, reason: "close failed: \(FileContents.errnoText())") }
            return
        }
        guard result == 0 else {
            TemporaryFiles.remove(temporaryPath)
            throw .io(path: path, reason: "close failed: \(FileContents.errnoText())")
        }
        guard TemporaryFiles.rename(temporaryPath, to: finalPath) == 0 else {
            let reason = FileContents.errnoText()
            TemporaryFiles.remove(temporaryPath)
            throw .io(path: path, reason: "cannot rename into place: \(reason)")
        }
    }

    /// Abandons the output: closes it and removes the temporary (a device or FIFO is only closed).
    package func discard() {
        guard fd >= 0 else { return }
        close(fd)
        fd = -1
        if let temporaryPath { TemporaryFiles.remove(temporaryPath) }
    }
}

/// The temporary files this process has open for writing, so that a command-line signal handler
/// can remove them before the process exits (`removeAllAndExit`).
///
/// This is the one piece of global mutable state the library keeps, and only because a handler for
/// SIGINT/SIGTERM/SIGHUP has no other way to reach the files. The command line delivers signals
/// through a dispatch source, so the handler runs on an ordinary thread and may take the lock; every
/// section under the lock is a single non-blocking system call (an O_EXCL create, rename, unlink),
/// so the handler never waits long. Creating and renaming under the lock means a handler that has
/// started removing files cannot race a temporary being created or renamed into place.
package enum TemporaryFiles {
    private final class Registry: @unchecked Sendable {
        private let mutex: UnsafeMutablePointer<pthread_mutex_t> = {
            let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
            pthread_mutex_init(mutex, nil)
            return mutex
        }()
        var paths: Set<String> = []

        func locked<T>(_ body: () -> T) -> T {
            pthread_mutex_lock(mutex)
            defer { pthread_mutex_unlock(mutex) }
            return body()
        }

        /// Locks for good (the process is about to exit).
        func lockForever() -> Set<String> {
            pthread_mutex_lock(mutex)
            return paths
        }
    }

    private static let registry = Registry()

    /// Registers `path` and runs `open` (which creates it) under the lock; returns its descriptor.
    package static func create(_ path: String, _ open: () -> Int32) -> Int32 {
        registry.locked {
            let fd = open()
            if fd >= 0 { registry.paths.insert(path) }
            return fd
        }
    }

    /// Renames a registered temporary onto `destination` and forgets it.
    static func rename(_ path: String, to destination: String) -> Int32 {
        registry.locked {
            let result = systemRename(path, destination)
            let code = errno
            if result == 0 { registry.paths.remove(path) }
            errno = code
            return result
        }
    }

    /// Removes a registered temporary and forgets it.
    package static func remove(_ path: String) {
        registry.locked {
            unlink(path)
            registry.paths.remove(path)
        }
    }

    /// The temporaries now registered (tests).
    package static var registered: Set<String> { registry.locked { registry.paths } }

    /// Removes every registered temporary and ends the process with `status` at once (no atexit
    /// handlers, no buffered output flushed): for a signal that must abort a run.
    package static func removeAllAndExit(_ status: Int32) -> Never {
        // The lock is kept, so no temporary can be created or renamed after this point.
        for path in registry.lockForever() { unlink(path) }
        _exit(status)
    }
}

@inline(__always)
private func systemRename(_ from: String, _ to: String) -> Int32 {
    #if canImport(Darwin)
    return Darwin.rename(from, to)
    #elseif canImport(Glibc)
    return Glibc.rename(from, to)
    #else
    return Musl.rename(from, to)
    #endif
}

@inline(__always)
package func systemWrite(_ fd: Int32, _ pointer: UnsafeRawPointer, _ count: Int) -> Int {
    #if canImport(Darwin)
    return Darwin.write(fd, pointer, count)
    #elseif canImport(Glibc)
    return Glibc.write(fd, pointer, count)
    #else
    return Musl.write(fd, pointer, count)
    #endif
}
