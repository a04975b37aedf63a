import BirderIO
import CCurl
import Crypto
import Foundation

/// Fetches a file over HTTP(S) into place: streamed to `<destination>.partial`, resumed with a
/// Range request after an interruption, checked against the expected size and SHA-256, and only
/// then renamed onto `destination` — so a broken or forged download never sits where a model is
/// looked for. Processes fetching the same destination take turns on `<destination>.lock`
/// (`FileLock`): the file is fetched once, and the others find it verified.
public struct Downloader: Sendable {
    /// Attempts per download (each resumes where the last stopped) after a dropped connection.
    public var attempts: Int = 3
    /// Seconds without any data after which a transfer is given up (a server that hangs).
    public var timeout: TimeInterval = 60
    /// Asked a few times a second: true stops the transfer (the partial file is kept to resume).
    public var isCancelled: @Sendable () -> Bool = { false }

    public init(timeout: TimeInterval = 60, isCancelled: @escaping @Sendable () -> Bool = { false }) {
        self.timeout = timeout
        self.isCancelled = isCancelled
    }

    public struct Expectation: Sendable {
        public var sha256: String?
        /// Refuses the transfer early when the server announces an implausible size.
        public var plausibleSize: (@Sendable (Int64) -> Bool)?
        /// The most bytes the file may have: a larger announced size is refused before the body,
        /// and a body without (or with a false) Content-Length is cut off there.
        public var maximumBytes: Int64?
        /// Checks the complete file (still under its `.partial` name) after the hash: a throw
        /// deletes it, so a file that does not load never lands where it is looked for.
        public var check: (@Sendable (URL) throws -> Void)?
        public init(sha256: String? = nil, plausibleSize: (@Sendable (Int64) -> Bool)? = nil, maximumBytes: Int64? = nil,
                    check: (@Sendable (URL) throws -> Void)? = nil) {
            self.sha256 = sha256?.lowercased()
            self.plausibleSize = plausibleSize
            self.maximumBytes = maximumBytes
            self.check = check
        }
    }

    public enum Outcome: Sendable, Equatable {
        case downloaded(bytes: Int64)
        /// The destination already held a file with the expected hash.
        case alreadyPresent
    }

    /// What a download is doing, for a progress display; called from background threads.
    public enum Event: Sendable, Equatable {
        /// Another process holds `lock` (it is fetching the same file); this one waits for it.
        case waitingForLock(URL)
        /// The request goes out, resuming after `resumingAt` bytes kept from an earlier attempt.
        case transferring(resumingAt: Int64)
        /// Bytes of the file so far, of `total` when the server announced it.
        case received(Int64, total: Int64?)
    }

    /// The lock file processes take turns on to fetch `destination`.
    public static func lockFile(for destination: URL) -> URL { destination.appendingPathExtension("lock") }

    public func download(from url: URL, to destination: URL, expecting expectation: Expectation,
                         overwrite: Bool = false,
                         events: @escaping @Sendable (Event) -> Void = { _ in }) throws -> Outcome {
        let fm = FileManager.default
        let partial = destination.appendingPathExtension("partial")
        // A FIFO, device or directory under either name would block the hash or the resume, or be
        // replaced by the rename: refuse it, naming it, before anything is fetched.
        try Downloader.refuseNonRegular(destination.path)
        try Downloader.refuseNonRegular(partial.path)
        // A file already in place is checked without the lock: a read-only models directory that
        // holds everything needs no lock file.
        if !overwrite, let present = try Downloader.existing(destination, expectation) { return present }
        try fm.createDirectory(at: destination.deletingLastPathComponent(), withIntermediateDirectories: true)

        let lockFile = Downloader.lockFile(for: destination)
        let lock: FileLock
        do {
            lock = try FileLock.acquire(lockFile.path, isCancelled: isCancelled) { events(.waitingForLock(lockFile)) }
        } catch LockError.cancelled(let path) {
            throw DownloadError.cancelled(url: url.absoluteString, bytes: 0, waitingFor: path)
        } catch {
            throw DownloadError.io(lockFile.path, String(describing: error))
        }
        defer { lock.release() }
        // Whoever held the lock before may have fetched the file meanwhile.
        if !overwrite, let present = try Downloader.existing(destination, expectation) { return present }
        try Downloader.refuseNonRegular(partial.path)

        var lastError: (any Error)?
        for _ in 0..<max(1, attempts) {
            do {
                try transfer(url: url, partial: partial, expectation: expectation, events: events)
                lastError = nil
                break
            } catch let error as DownloadError where error.isRetryable {
                lastError = error
            } catch let error as DownloadError where error.isResumable {
                throw error
            } catch {
                // Only an interrupted transfer is worth keeping (to resume); a refused one is not.
                try? fm.removeItem(at: partial)
                throw error
            }
        }
        if let lastError {
            // Nothing received (an unreachable server): nothing worth keeping to resume.
            if let size = try? fm.attributesOfItem(atPath: partial.path)[.size] as? Int64, size == 0 {
                try? fm.removeItem(at: partial)
                if case let DownloadError.transport(url, reason)? = lastError as? DownloadError { throw DownloadError.unreachable(url: url, reason: reason) }
            }
            throw lastError
        }

        let bytes = (try? fm.attributesOfItem(atPath: partial.path)[.size] as? Int64) ?? 0
        if let expected = expectation.sha256 {
            let actual = try Downloader.sha256(of: partial)
            guard actual == expected else {
                try? fm.removeItem(at: partial)
                throw DownloadError.hashMismatch(url: url.absoluteString, expected: expected, actual: actual)
            }
        }
        if let check = expectation.check {
            do { try check(partial) } catch {
                try? fm.removeItem(at: partial)
                throw DownloadError.checkFailed(url: url.absoluteString, reason: String(describing: error))
            }
        }
        if overwrite { try? fm.removeItem(at: destination) }
        guard rename(partial.path, destination.path) == 0 else {
            throw DownloadError.io(destination.path, String(cString: strerror(errno)))
        }
        return .downloaded(bytes: bytes)
    }

    /// `.alreadyPresent` when `destination` exists and has the expected hash (or none is expected),
    /// nil when it does not exist.
    private static func existing(_ destination: URL, _ expectation: Expectation) throws -> Outcome? {
        guard FileManager.default.fileExists(atPath: destination.path) else { return nil }
        guard let expected = expectation.sha256 else { return .alreadyPresent }
        if try Downloader.sha256(of: destination) == expected { return .alreadyPresent }
        throw DownloadError.existsWithDifferentHash(destination.path)
    }

    /// One HTTP request, appending to `partial` (resuming when it already holds bytes).
    private func transfer(url: URL, partial: URL, expectation: Expectation,
                          events: @escaping @Sendable (Event) -> Void) throws {
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
        events(.transferring(resumingAt: offset))

        guard let curl = curl_easy_init() else { throw DownloadError.transport(url: url.absoluteString, reason: "libcurl cannot start") }
        defer { curl_easy_cleanup(curl) }
        let state = TransferState(curl: curl, handle: handle, offset: offset, url: url, expectation: expectation,
                                  timeout: timeout, isCancelled: isCancelled, progress: { events(.received($0, total: $1)) })
        var message = [CChar](repeating: 0, count: Int(CURL_ERROR_SIZE) + 1)
        let code: CURLcode = withExtendedLifetime(state) {
            message.withUnsafeMutableBufferPointer { buffer in
                var setup = [
                    bh_curl_setopt_string(curl, CURLOPT_URL, url.absoluteString),
                    bh_curl_setopt_string(curl, CURLOPT_USERAGENT, "birder-swift"),
                    // The hub answers with a redirect to its CDN.
                    bh_curl_setopt_long(curl, CURLOPT_FOLLOWLOCATION, 1),
                    bh_curl_setopt_long(curl, CURLOPT_MAXREDIRS, 10),
                    bh_curl_setopt_string(curl, CURLOPT_PROTOCOLS_STR, "http,https"),
                    bh_curl_setopt_string(curl, CURLOPT_REDIR_PROTOCOLS_STR, "http,https"),
                    bh_curl_setopt_long(curl, CURLOPT_CONNECTTIMEOUT, max(1, Int(timeout.rounded(.up)))),
                    // No signals from libcurl's resolver: other threads of the process run models.
                    bh_curl_setopt_long(curl, CURLOPT_NOSIGNAL, 1),
                    bh_curl_setopt_pointer(curl, CURLOPT_ERRORBUFFER, buffer.baseAddress),
                    bh_curl_set_callbacks(curl, receiveHeader, receiveBody, reportProgress,
                                          Unmanaged.passUnretained(state).toOpaque()),
                ]
                if offset > 0 { setup.append(bh_curl_setopt_offset(curl, CURLOPT_RESUME_FROM_LARGE, curl_off_t(offset))) }
                if let failed = setup.first(where: { $0 != CURLE_OK }) { return failed }
                return curl_easy_perform(curl)
            }
        }
        try state.finish(code, message: String(cString: message))
        try handle.synchronize()
    }

    /// Throws when `path` exists (following links) and is not a regular file.
    static func refuseNonRegular(_ path: String) throws(DownloadError) {
        var info = stat()
        guard stat(path, &info) == 0 else { return }
        if let kind = FileContents.kindName(info.st_mode) { throw .io(path, "is \(kind), not a regular file") }
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
        guard fstat(fd, &info) == 0, FileContents.kindName(info.st_mode) == nil else {
            close(fd)
            throw DownloadError.io(file.path, "is \(FileContents.kindName(info.st_mode) ?? "unreadable"), not a regular file")
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
    /// Every attempt failed before a byte arrived (no network, no such host, refused).
    case unreachable(url: String, reason: String)
    case implausibleSize(url: String, bytes: Int64)
    case hashMismatch(url: String, expected: String, actual: String)
    /// The expectation's `check` refused the complete file (deleted).
    case checkFailed(url: String, reason: String)
    case existsWithDifferentHash(String)
    case io(String, String)
    /// The server announced or sent more than the file may have.
    case tooLarge(url: String, limit: Int64)
    /// No data for `seconds`.
    case timedOut(url: String, seconds: TimeInterval)
    /// Stopped on request after `bytes` bytes (kept, to resume), or while waiting for the lock
    /// file `waitingFor` that another process held.
    case cancelled(url: String, bytes: Int64, waitingFor: String?)

    /// Stopped by the user or a silent server: the bytes so far are sound and kept to resume.
    var isResumable: Bool {
        switch self {
        case .cancelled, .timedOut: return true
        default: return false
        }
    }

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
        case let .unreachable(url, reason): return "\(url): cannot be reached: \(reason)"
        case let .transport(url, reason): return "\(url): transfer failed: \(reason) (run again to resume)"
        case let .implausibleSize(url, bytes): return "\(url): the server announces \(bytes) bytes, which is not the published size; refused"
        case let .hashMismatch(url, expected, actual):
            return "\(url): SHA-256 \(actual) differs from the published \(expected); the download was deleted"
        case let .checkFailed(url, reason): return "\(url): \(reason); the download was deleted"
        case let .existsWithDifferentHash(path): return "\(path): exists with a different SHA-256; pass --force to replace it"
        case let .io(path, reason): return "\(path): \(reason)"
        case let .tooLarge(url, limit): return "\(url): the file is larger than its published size (\(limit) bytes at most); refused"
        case let .timedOut(url, seconds):
            return "\(url): timed out after \(Int(seconds)) s without data (run again to resume, or raise --timeout)"
        case let .cancelled(url, _, lock?): return "\(url): interrupted while another process was fetching it (it holds \(lock))"
        case let .cancelled(url, bytes, nil): return "\(url): interrupted after \(bytes) bytes (run again to resume)"
        }
    }
}

// libcurl's callbacks: C functions that find their transfer through the context pointer.

private let receiveHeader: bh_curl_data_callback = { data, size, count, context in
    let state = Unmanaged<TransferState>.fromOpaque(context!).takeUnretainedValue()
    return state.header(UnsafeRawBufferPointer(start: data, count: size * count)) ? size * count : 0
}

private let receiveBody: bh_curl_data_callback = { data, size, count, context in
    let state = Unmanaged<TransferState>.fromOpaque(context!).takeUnretainedValue()
    return state.body(UnsafeRawBufferPointer(start: data, count: size * count)) ? size * count : 0
}

private let reportProgress: bh_curl_progress_callback = { context, _, _, _, _ in
    Unmanaged<TransferState>.fromOpaque(context!).takeUnretainedValue().shouldContinue() ? 0 : 1
}

/// One response as libcurl delivers it on the calling thread: checks its status and announced size
/// when the headers end (before any body), appends the body to the file within the size limit,
/// and stops a silent or cancelled transfer. A callback that returns false makes libcurl abort;
/// `failure` then says why.
private final class TransferState {
    private let curl: UnsafeMutableRawPointer
    private let handle: FileHandle
    private let url: URL
    private let expectation: Downloader.Expectation
    private let timeout: TimeInterval
    private let isCancelled: @Sendable () -> Bool
    private let progress: @Sendable (Int64, Int64?) -> Void
    private var received: Int64
    private var total: Int64?
    private var failure: DownloadError?
    private var lastData = DispatchTime.now()

    init(curl: UnsafeMutableRawPointer, handle: FileHandle, offset: Int64, url: URL, expectation: Downloader.Expectation,
         timeout: TimeInterval, isCancelled: @escaping @Sendable () -> Bool, progress: @escaping @Sendable (Int64, Int64?) -> Void) {
        self.curl = curl
        self.handle = handle
        self.received = offset
        self.url = url
        self.expectation = expectation
        self.timeout = timeout
        self.isCancelled = isCancelled
        self.progress = progress
    }

    private var status: Int {
        var code = 0
        _ = bh_curl_getinfo_long(curl, CURLINFO_RESPONSE_CODE, &code)
        return code
    }

    /// One header line; the blank line that ends a response's headers is where it is judged.
    func header(_ line: UnsafeRawBufferPointer) -> Bool {
        lastData = .now()
        guard line.count <= 2, line.allSatisfy({ $0 == 13 || $0 == 10 }) else { return true }
        let status = self.status
        // An interim response, or a redirect that libcurl follows: the real one comes next.
        if status < 200 || (300..<400).contains(status) { return true }
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
                return false
            }
        default:
            failure = .http(url: url.absoluteString, status: status)
            return false
        }
        var announced: curl_off_t = -1
        _ = bh_curl_getinfo_offset(curl, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &announced)
        if announced >= 0 {
            let (sum, overflow) = received.addingReportingOverflow(Int64(announced))
            total = overflow ? Int64.max : sum
            if let maximum = expectation.maximumBytes, overflow || sum > maximum {
                failure = .tooLarge(url: url.absoluteString, limit: maximum)
                return false
            }
            if let plausible = expectation.plausibleSize, !plausible(total!) {
                failure = .implausibleSize(url: url.absoluteString, bytes: total!)
                return false
            }
        }
        return true
    }

    /// Body bytes of the final response.
    func body(_ bytes: UnsafeRawBufferPointer) -> Bool {
        // A redirect's own body, or a response `header` refused.
        guard failure == nil, (200..<300).contains(status) else { return failure == nil }
        if let maximum = expectation.maximumBytes, received + Int64(bytes.count) > maximum {
            // No Content-Length, or a false one: the body may not outgrow the published size.
            failure = .tooLarge(url: url.absoluteString, limit: maximum)
            return false
        }
        do { try handle.write(contentsOf: bytes) } catch {
            failure = .io(url.path, "write failed: \(error)")
            return false
        }
        received += Int64(bytes.count)
        lastData = .now()
        progress(received, total)
        return true
    }

    /// Asked by libcurl at least once a second, data or not: false stops a cancelled transfer or
    /// one silent for `timeout` seconds (the bytes so far stay, to resume).
    func shouldContinue() -> Bool {
        guard failure == nil else { return false }
        if isCancelled() {
            failure = .cancelled(url: url.absoluteString, bytes: received, waitingFor: nil)
        } else if Double(DispatchTime.now().uptimeNanoseconds - lastData.uptimeNanoseconds) / 1e9 > timeout {
            failure = .timedOut(url: url.absoluteString, seconds: timeout)
        }
        return failure == nil
    }

    /// The transfer's result once libcurl returned `code`.
    func finish(_ code: CURLcode, message: String) throws {
        if let failure { throw failure }
        switch code {
        case CURLE_OK:
            guard (200..<300).contains(status) else { throw DownloadError.http(url: url.absoluteString, status: status) }
            if let total, received < total {
                throw DownloadError.transport(url: url.absoluteString, reason: "connection closed after \(received) of \(total) bytes")
            }
        case CURLE_OPERATION_TIMEDOUT:
            throw DownloadError.timedOut(url: url.absoluteString, seconds: timeout)
        default:
            let reason = message.isEmpty ? String(cString: curl_easy_strerror(code)) : message
            throw DownloadError.transport(url: url.absoluteString, reason: reason)
        }
    }
}
