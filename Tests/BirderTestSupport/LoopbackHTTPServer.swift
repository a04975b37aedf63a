import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A minimal HTTP/1.1 file server on 127.0.0.1 (an ephemeral port) for download tests: honours
/// `Range: bytes=N-`, and can cut a response short to simulate an interrupted transfer.
/// One connection at a time, `Connection: close`; it never listens beyond loopback.
public final class LoopbackHTTPServer: @unchecked Sendable {
    public struct Route: Sendable {
        public var body: [UInt8]
        /// Send only this many body bytes on the first request for the path, then close.
        public var cutFirstResponseAfter: Int?
        public var honoursRange: Bool
        /// What the Content-Length header says: the body's length (nil), another number, or
        /// "" to send no Content-Length at all (the body then ends when the connection closes).
        public var announcedLength: String?
        /// Send the headers, then nothing until the server stops (a hung server).
        public var hangsAfterHeaders: Bool
        /// Seconds between the headers and the body (a slow transfer, to overlap with another client).
        public var pauseBeforeBody: TimeInterval
        public init(body: [UInt8], cutFirstResponseAfter: Int? = nil, honoursRange: Bool = true,
                    announcedLength: String? = nil, hangsAfterHeaders: Bool = false, pauseBeforeBody: TimeInterval = 0) {
            self.body = body
            self.cutFirstResponseAfter = cutFirstResponseAfter
            self.honoursRange = honoursRange
            self.announcedLength = announcedLength
            self.hangsAfterHeaders = hangsAfterHeaders
            self.pauseBeforeBody = pauseBeforeBody
        }
    }

    public let port: UInt16
    private let listener: Int32
    private let lock = NSLock()
    private var routes: [String: Route]
    private var served: [String: Int] = [:]
    private var log: [(path: String, range: String?)] = []

    public var baseURL: String { "http://127.0.0.1:\(port)" }

    /// The requests received so far: path and Range header.
    public var requests: [(path: String, range: String?)] { lock.withLock { log } }

    public init(routes: [String: Route]) throws {
        self.routes = routes
        #if canImport(Glibc)
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        #else
        let fd = socket(AF_INET, SOCK_STREAM, 0)
        #endif
        guard fd >= 0 else { throw ServerError.socket("socket") }
        var yes: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &yes, socklen_t(MemoryLayout<Int32>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = 0
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0, listen(fd, 8) == 0 else { close(fd); throw ServerError.socket("bind/listen") }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        self.port = UInt16(bigEndian: address.sin_port)
        self.listener = fd
        let thread = Thread { [self] in acceptLoop() }
        thread.start()
    }

    /// Stops accepting. The accept loop closes the listening socket itself once its `accept` fails:
    /// closed here, its descriptor number could be handed to another test's server while this loop
    /// (still in a response) had one more `accept` to make — and it would take that server's
    /// connections (seen: a download answered 404 by a server without the route).
    public func stop() {
        stopped.signal()
        shutdown(listener, Int32(SHUT_RDWR))
    }

    /// Signalled by `stop()`: a hung response waits on it (at most 60 s, so nothing outlives a test run).
    private let stopped = DispatchSemaphore(value: 0)

    private func acceptLoop() {
        while true {
            let client = accept(listener, nil, nil)
            if client < 0 {
                if errno == EINTR { continue }
                close(listener)
                return
            }
            handle(client)
            close(client)
        }
    }

    private func handle(_ client: Int32) {
        var request = [UInt8]()
        var buffer = [UInt8](repeating: 0, count: 4096)
        while !request.ends(with: Array("\r\n\r\n".utf8)) {
            let n = recv(client, &buffer, buffer.count, 0)
            if n <= 0 { return }
            request += buffer[0..<n]
            if request.count > 65_536 { return }
        }
        let lines = String(decoding: request, as: UTF8.self).components(separatedBy: "\r\n")
        let parts = lines[0].split(separator: " ")
        let path = parts.count > 1 ? String(parts[1]) : "/"
        let range = lines.first { $0.lowercased().hasPrefix("range:") }
            .map { String($0.dropFirst("range:".count)).trimmingCharacters(in: .whitespaces) }

        let (route, count): (Route?, Int) = lock.withLock {
            log.append((path, range))
            served[path, default: 0] += 1
            return (routes[path], served[path]!)
        }
        guard let route else {
            send(client, "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
            return
        }
        var start = 0
        if route.honoursRange, let range, range.hasPrefix("bytes="), range.hasSuffix("-"),
           let from = Int(range.dropFirst(6).dropLast()), from < route.body.count {
            start = from
        }
        let body = route.body[start...]
        var head = start > 0 ? "HTTP/1.1 206 Partial Content\r\n" : "HTTP/1.1 200 OK\r\n"
        if start > 0 { head += "Content-Range: bytes \(start)-\(route.body.count - 1)/\(route.body.count)\r\n" }
        switch route.announcedLength {
        case nil: head += "Content-Length: \(body.count)\r\n"
        case ""?: break
        case let length?: head += "Content-Length: \(length)\r\n"
        }
        head += "Content-Type: application/octet-stream\r\nConnection: close\r\n\r\n"
        send(client, head)
        if route.hangsAfterHeaders {
            _ = stopped.wait(timeout: .now() + 60)
            return
        }
        if route.pauseBeforeBody > 0 { _ = stopped.wait(timeout: .now() + route.pauseBeforeBody) }
        var toSend = Array(body)
        if count == 1, let cut = route.cutFirstResponseAfter { toSend = Array(toSend.prefix(cut)) }
        toSend.withUnsafeBytes { raw in
            var sent = 0
            while sent < raw.count {
                let n = socketSend(client, raw.baseAddress! + sent, raw.count - sent)
                if n <= 0 { return }
                sent += n
            }
        }
    }

    private func send(_ client: Int32, _ text: String) {
        let bytes = Array(text.utf8)
        _ = bytes.withUnsafeBytes { socketSend(client, $0.baseAddress!, $0.count) }
    }

    public enum ServerError: Error { case socket(String) }
}

/// send(2) without SIGPIPE when the client has gone.
private func socketSend(_ fd: Int32, _ bytes: UnsafeRawPointer, _ count: Int) -> Int {
    #if canImport(Glibc)
    return Glibc.send(fd, bytes, count, Int32(MSG_NOSIGNAL))
    #else
    var one: Int32 = 1
    setsockopt(fd, SOL_SOCKET, SO_NOSIGPIPE, &one, socklen_t(MemoryLayout<Int32>.size))
    return Darwin.send(fd, bytes, count, 0)
    #endif
}

private extension Array where Element == UInt8 {
    func ends(with suffix: [UInt8]) -> Bool { count >= suffix.count && Array(self[(count - suffix.count)...]) == suffix }
}
