import Crypto
import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// Fetches a file over HTTP(S) into place: streamed to `<destination>.partial`, resumed with a
/// Range request after an interruption, checked against the expected size and SHA-256, and only
/// then renamed onto `destination` — so a broken or forged download never sits where a model is
/// looked for.
public struct Downloader: Sendable {
    /// Attempts per download (each resumes where the last stopped).
    public var attempts: Int = 3
    public var timeout: TimeInterval = 60

    public init() {}

    public struct Expectation: Sendable {
        public var sha256: String?
        /// Refuses the transfer early when the server announces an implausible size.
        public var plausibleSize: (@Sendable (Int64) -> Bool)?
        public init(sha256: String? = nil, plausibleSize: (@Sendable (Int64) -> Bool)? = nil) {
            self.sha256 = sha256?.lowercased()
            self.plausibleSize = plausibleSize
        }
    }

    public enum Outcome: Sendable, Equatable {
        case downloaded(bytes: Int64)
        /// The destination already held a file with the expected hash.
        case alreadyPresent
    }

    /// `progress(received, total)` is called from a background thread as bytes arrive.
    public func download(from url: URL, to destination: URL, expecting expectation: Expectation,
                         overwrite: Bool = false,
                         progress: @escaping @Sendable (Int64, Int64?) -> Void = { _, _ in }) throws -> Outcome {
        let fm = FileManager.default
        let partial = destination.appendingPathExtension("partial")
        // A FIFO, device or directory under either name would block the hash or the resume, or be
        // replaced by the rename: refuse it, naming it, before anything is fetched.
        try Downloader.refuseNonRegular(destination.path)
        try Downloader.refuseNonRegular(partial.path)
        if fm.fileExists(atPath: destination.path) && !overwrite {
            guard let expected = expectation.sha256 else { return .alreadyPresent }
            if try Downloader.sha256(of: destination) == expected { return .alreadyPresent }
            throw DownloadError.existsWithDifferentHash(destination.path)
        }
        try fm.createDirectory(at: destination.deletingLastPathComponent(), withIntermediateDirectories: true)

        var lastError: (any Error)?
        for _ in 0..<max(1, attempts) {
            do {
                try transfer(url: url, partial: partial, expectation: expectation, progress: progress)
                lastError = nil
                break
            } catch let error as DownloadError where error.isRetryable {
                lastError = error
            } catch {
                // Only an interrupted transfer is worth keeping (to resume); a refused one is not.
                try? fm.removeItem(at: partial)
                throw error
            }
        }
        if let lastError { throw lastError }

        let bytes = (try? fm.attributesOfItem(atPath: partial.path)[.size] as? Int64) ?? 0
        if let expected = expectation.sha256 {
            let actual = try Downloader.sha256(of: partial)
            guard actual == expected else {
                try? fm.removeItem(at: partial)
                throw DownloadError.hashMismatch(url: url.absoluteString, expected: expected, actual: actual)
            }
        }
        if overwrite { try? fm.removeItem(at: destination) }
        guard rename(partial.path, destination.path) == 0 else {
            throw DownloadError.io(destination.path, String(cString: strerror(errno)))
        }
        return .downloaded(bytes: bytes)
    }

    /// One HTTP request, appending to `partial` (resuming when it already holds bytes).
    private func transfer(url: URL, partial: URL, expectation: Expectation,
                          progress: @escaping @Sendable (Int64, Int64?) -> Void) throws {
        let fm = FileManager.default
        if !fm.fileExists(atPath: partial.path) {
            guard fm.createFile(atPath: partial.path, contents: nil) else {
                throw DownloadError.io(partial.path, "cannot create file")
            }
        }
        guard let handle = FileHandle(forUpdatingAtPath: partial.path) else {
            throw DownloadError.io(partial.path, "cannot open for writing")
        }
        defer { try? handle.close() }
        let offset = Int64(try handle.seekToEnd())

        var request = URLRequest(url: url, timeoutInterval: timeout)
        request.setValue("birder-swift", forHTTPHeaderField: "User-Agent")
        if offset > 0 { request.setValue("bytes=\(offset)-", forHTTPHeaderField: "Range") }

        let sink = DownloadSink(handle: handle, offset: offset, url: url, expectation: expectation, progress: progress)
        let session = URLSession(configuration: .ephemeral, delegate: sink, delegateQueue: nil)
        defer { session.finishTasksAndInvalidate() }
        session.dataTask(with: request).resume()
        try sink.wait()
        try handle.synchronize()
    }

    /// Throws when `path` exists (following links) and is not a regular file.
    static func refuseNonRegular(_ path: String) throws(DownloadError) {
        var info = stat()
        guard stat(path, &info) == 0 else { return }
        if let kind = kindName(info.st_mode) { throw .io(path, "is \(kind), not a regular file") }
    }

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

    /// Lower-case hex SHA-256 of a regular file, streamed. It is opened non-blocking and checked
    /// with `fstat` before a byte is read, so a FIFO or device (in a models directory, say) is
    /// refused instead of blocking `open` or reading forever.
    public static func sha256(of file: URL) throws -> String {
        let fd = open(file.path, O_RDONLY | O_NONBLOCK | O_CLOEXEC)
        guard fd >= 0 else {
            let reason = String(cString: strerror(errno))
            try refuseNonRegular(file.path)
            throw DownloadError.io(file.path, "cannot open for reading: \(reason)")
        }
        var info = stat()
        guard fstat(fd, &info) == 0, kindName(info.st_mode) == nil else {
            close(fd)
            throw DownloadError.io(file.path, "is \(kindName(info.st_mode) ?? "unreadable"), not a regular file")
        }
        let handle = FileHandle(fileDescriptor: fd, closeOnDealloc: true)
        defer { try? handle.close() }
        var hasher = SHA256()
        while true {
            let chunk = try handle.read(upToCount: 1 << 20) ?? Data()
            if chunk.isEmpty { break }
            hasher.update(data: chunk)
        }
        return hasher.finalize().map { String(format: "%02x", $0) }.joined()
    }
}

public enum DownloadError: Error, CustomStringConvertible, Equatable {
    case http(url: String, status: Int)
    case transport(url: String, reason: String)
    case implausibleSize(url: String, bytes: Int64)
    case hashMismatch(url: String, expected: String, actual: String)
    case existsWithDifferentHash(String)
    case io(String, String)

    var isRetryable: Bool {
        switch self {
        case .transport: return true
        case let .http(_, status): return status >= 500
        default: return false
        }
    }

    public var description: String {
        switch self {
        case let .http(url, status): return "\(url): HTTP status \(status)"
        case let .transport(url, reason): return "\(url): transfer failed: \(reason) (run again to resume)"
        case let .implausibleSize(url, bytes): return "\(url): the server announces \(bytes) bytes, which is not the published size; refused"
        case let .hashMismatch(url, expected, actual):
            return "\(url): SHA-256 \(actual) differs from the published \(expected); the download was deleted"
        case let .existsWithDifferentHash(path): return "\(path): exists with a different SHA-256; pass --force to replace it"
        case let .io(path, reason): return "\(path): \(reason)"
        }
    }
}

/// Receives one response: checks its status and announced size, appends the body to the file.
private final class DownloadSink: NSObject, URLSessionDataDelegate, @unchecked Sendable {
    private let handle: FileHandle
    private let url: URL
    private let expectation: Downloader.Expectation
    private let progress: @Sendable (Int64, Int64?) -> Void
    private let done = DispatchSemaphore(value: 0)
    private let lock = NSLock()
    private var received: Int64
    private var total: Int64?
    private var failure: DownloadError?

    init(handle: FileHandle, offset: Int64, url: URL, expectation: Downloader.Expectation,
         progress: @escaping @Sendable (Int64, Int64?) -> Void) {
        self.handle = handle
        self.received = offset
        self.url = url
        self.expectation = expectation
        self.progress = progress
    }

    func wait() throws {
        done.wait()
        if let failure = lock.withLock({ failure }) { throw failure }
    }

    func urlSession(_ session: URLSession, dataTask: URLSessionDataTask, didReceive response: URLResponse,
                    completionHandler: @escaping @Sendable (URLSession.ResponseDisposition) -> Void) {
        let status = (response as? HTTPURLResponse)?.statusCode ?? 0
        let announced = response.expectedContentLength
        let disposition: URLSession.ResponseDisposition = lock.withLock {
            switch status {
            case 206:
                break
            case 200:
                // The server ignored the Range header: start over.
                do {
                    try handle.truncate(atOffset: 0)
                    received = 0
                } catch {
                    failure = .io(url.path, "cannot truncate the partial file: \(error)")
                    return .cancel
                }
            default:
                failure = .http(url: url.absoluteString, status: status)
                return .cancel
            }
            if announced >= 0 {
                total = received + announced
                if let plausible = expectation.plausibleSize, !plausible(received + announced) {
                    failure = .implausibleSize(url: url.absoluteString, bytes: received + announced)
                    return .cancel
                }
            }
            return .allow
        }
        completionHandler(disposition)
    }

    func urlSession(_ session: URLSession, dataTask: URLSessionDataTask, didReceive data: Data) {
        let (now, total): (Int64, Int64?) = lock.withLock {
            guard failure == nil else { return (received, self.total) }
            do { try handle.write(contentsOf: data) } catch {
                failure = .io(url.path, "write failed: \(error)")
                dataTask.cancel()
            }
            received += Int64(data.count)
            return (received, self.total)
        }
        progress(now, total)
    }

    func urlSession(_ session: URLSession, task: URLSessionTask, didCompleteWithError error: (any Error)?) {
        lock.withLock {
            if failure == nil, let error {
                failure = .transport(url: url.absoluteString, reason: error.localizedDescription)
            } else if failure == nil, let total, received < total {
                failure = .transport(url: url.absoluteString, reason: "connection closed after \(received) of \(total) bytes")
            }
        }
        done.signal()
    }
}
