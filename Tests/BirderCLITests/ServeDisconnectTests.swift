import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Testing
import BirderTestSupport

/// Clients that go away, against the real `birder serve` on 127.0.0.1: a request whose client
/// closes its socket mid-upload or while it waits in the queue is dropped — never computed — and
/// the server's memory stays level over a bounded loop of such clients.
@Suite(.serialized) struct ServeDisconnectTests {
    static let model = Fixtures.path("cli/models/rdnet_t_tiny-test.pt")
    static let photo = try! Data(contentsOf: Fixtures.url("cli/photos/a_chelsea.jpg"))
    static let classify = "/v2/models/rdnet_t_tiny-test/classify"
    static let dropped = #"birder_dropped_requests_total{model="rdnet_t_tiny-test",stage="queued",reason="client_gone"}"#
    static let closedByClient = #"birder_http_requests_total{endpoint="/v2/models/{name}/classify",status="499"}"#

    /// A batching delay far longer than the tests wait, and batches of 8: a request of fewer
    /// images stays queued until its client leaves (or 8 images fill a batch).
    static func startServer() throws -> ServeProcess {
        let server = try ServeProcess(["serve", "--model", "\(model):order", "--port", "0", "--threads", "1",
                                       "--max-queue-delay-ms", "10000", "--max-batch-size", "8"])
        try server.waitUntilReady()
        return server
    }

    @Test func clientsThatLeaveMidUploadOrWhileQueuedAreDroppedNotComputed() throws {
        let server = try Self.startServer()
        defer { server.kill() }

        // Mid-upload: the head and a part of the body, then the socket closes.
        let uploading = try LoopbackClient(port: server.port)
        try uploading.send(Self.head(Self.classify, type: "image/jpeg", length: Self.photo.count) + Self.photo.prefix(1000))
        // In flight: the upload and the /metrics request that reads the gauge.
        try server.waitForMetric("birder_requests_in_flight", 2)
        uploading.close()
        try server.waitForMetric(Self.closedByClient, 1)

        // While queued: the whole request, then the socket closes before its batch is due.
        let waiting = try LoopbackClient(port: server.port)
        try waiting.send(Self.head(Self.classify, type: "image/jpeg", length: Self.photo.count) + Self.photo)
        try server.waitForQueuedImages(1)
        waiting.close()
        try server.waitForMetric(Self.dropped, 1)
        try server.waitForMetric(Self.closedByClient, 2)
        #expect(try server.metric(#"birder_queued_images{model="rdnet_t_tiny-test"}"#) == 0)
        #expect(try server.metric(#"birder_images_total{model="rdnet_t_tiny-test"}"#) == nil, "a batch ran for a departed client")
        #expect(server.stderr.contains("dropped a rdnet_t_tiny-test request of 1 image(s) while queued: its client closed the connection"),
                "\(server.stderr)")

        // The server goes on serving: 8 images fill a batch at once, and they are all it computed.
        let (type, body) = Self.multipart(count: 8)
        let answer = try server.request(Self.classify, method: "POST", headers: ["Content-Type": type], body: body)
        #expect(answer.status == 200)
        let predictions = (try JSONSerialization.jsonObject(with: answer.body) as? [String: Any])?["predictions"] as? [[String: Any]]
        #expect(predictions?.count == 8)
        #expect(try server.metric(#"birder_images_total{model="rdnet_t_tiny-test"}"#) == 8)
        #expect(try server.metric(#"birder_batch_size_count{model="rdnet_t_tiny-test"}"#) == 1)
    }

    /// Resident memory after a warm-up, then after more rounds of departing clients (each round one
    /// leaves mid-upload and one while its 456 KiB PNG is queued): the growth stays under a bound
    /// far below what keeping each round's bodies would take (0.9 MiB a round read, more in copies).
    @Test func memoryStaysLevelOverARepeatLoopOfDepartingClients() throws {
        let server = try Self.startServer()
        defer { server.kill() }
        let body = try Data(contentsOf: Fixtures.url("vision/images/coffee.png"))
        let partial = Self.head(Self.classify, type: "image/png", length: body.count * 2) + body
        let whole = Self.head(Self.classify, type: "image/png", length: body.count) + body
        let warmUp = 15, measured = 45
        var afterWarmUp = 0
        for round in 1...(warmUp + measured) {
            let uploading = try LoopbackClient(port: server.port)
            try uploading.send(partial)
            uploading.close()
            let waiting = try LoopbackClient(port: server.port)
            try waiting.send(whole)
            try server.waitForQueuedImages(1)
            waiting.close()
            try server.waitForMetric(Self.dropped, round)
            try server.waitForMetric(Self.closedByClient, 2 * round)
            if round == warmUp { afterWarmUp = try #require(server.residentBytes) }
        }
        let growth = try #require(server.residentBytes) - afterWarmUp
        #expect(growth < 8 << 20, "RSS grew by \(growth >> 10) KiB over \(measured) rounds of departing clients")
        #expect(try server.metric(#"birder_images_total{model="rdnet_t_tiny-test"}"#) == nil, "a batch ran for a departed client")
    }

    // MARK: Requests by hand

    static func head(_ path: String, type: String, length: Int) -> Data {
        Data("POST \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: \(type)\r\nContent-Length: \(length)\r\n\r\n".utf8)
    }

    /// A multipart/form-data body of `count` copies of the photo, with its Content-Type.
    static func multipart(count: Int) -> (type: String, body: Data) {
        let boundary = "birder-disconnect-test"
        var body = Data()
        for i in 0..<count {
            body += Data("--\(boundary)\r\nContent-Disposition: form-data; name=\"file\"; filename=\"p\(i).jpg\"\r\nContent-Type: image/jpeg\r\n\r\n".utf8)
            body += photo + Data("\r\n".utf8)
        }
        body += Data("--\(boundary)--\r\n".utf8)
        return ("multipart/form-data; boundary=\(boundary)", body)
    }
}

/// A bare TCP connection to 127.0.0.1 that sends bytes and goes away without reading an answer
/// (the client URLSession cannot be: it always waits for the response).
final class LoopbackClient {
    private var descriptor: Int32

    struct Failure: Error, CustomStringConvertible {
        let call: String
        let code: Int32
        var description: String { "\(call) failed: \(String(cString: strerror(code)))" }
    }

    init(port: Int) throws {
        #if canImport(Glibc)
        descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        #else
        descriptor = socket(AF_INET, SOCK_STREAM, 0)
        #endif
        guard descriptor >= 0 else { throw Failure(call: "socket", code: errno) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else {
            let code = errno
            close()
            throw Failure(call: "connect", code: code)
        }
    }

    func send(_ data: Data) throws {
        try data.withUnsafeBytes { raw in
            var sent = 0
            while sent < raw.count {
                #if canImport(Glibc)
                let n = Glibc.send(descriptor, raw.baseAddress! + sent, raw.count - sent, Int32(MSG_NOSIGNAL))
                #else
                let n = Darwin.send(descriptor, raw.baseAddress! + sent, raw.count - sent, 0)
                #endif
                guard n > 0 else { throw Failure(call: "send", code: errno) }
                sent += n
            }
        }
    }

    func close() {
        guard descriptor >= 0 else { return }
        #if canImport(Glibc)
        _ = Glibc.close(descriptor)
        #else
        _ = Darwin.close(descriptor)
        #endif
        descriptor = -1
    }

    deinit { close() }
}
