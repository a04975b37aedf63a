import Birder
import BirderTestSupport
import Foundation
import Hummingbird
import HummingbirdTesting
import Testing
@testable import BirderServer

/// The CLI fixtures: a tiny RDNet checkpoint with an `order` head, and real photos.
enum ServerFixtures {
    static let modelPath = Fixtures.path("cli/models/rdnet_t_tiny-test.pt")
    static let modelName = "rdnet_t_tiny-test"
    static let jpeg = try! Data(contentsOf: Fixtures.url("cli/photos/a_chelsea.jpg"))
    static let png = try! Data(contentsOf: Fixtures.url("cli/photos/insects/b_coffee.png"))
    static let webp = try! Data(contentsOf: Fixtures.url("cli/photos/insects/c_chelsea.webp"))
    static let truncated = try! Data(contentsOf: Fixtures.url("cli/photos/insects/d_truncated.jpg"))

    static func load() throws -> BirderModel { try BirderModel.load(modelPath, heads: ["order"]) }
}

/// A server over the fixture model, run in process (no socket), ready before `body` runs.
func withServer(_ configure: (inout ServerConfiguration) -> Void = { _ in },
                _ body: @Sendable (any TestClientProtocol) async throws -> Void) async throws {
    var configuration = ServerConfiguration()
    configuration.maxQueueDelay = .milliseconds(1)
    configure(&configuration)
    let server = InferenceServer(configuration: configuration, models: [ServerFixtures.load], threads: 2)
    try await server.makeApplication().test(.router) { client in
        try await waitUntilReady(client)
        try await body(client)
    }
}

/// Polls the readiness check (open to all, so no key is needed).
func waitUntilReady(_ client: any TestClientProtocol) async throws {
    for _ in 0..<600 {
        if try await client.execute(uri: "/v2/health/ready", method: .get).status == .ok { return }
        try await Task.sleep(for: .milliseconds(50))
    }
    Issue.record("the server did not become ready within 30 s")
}

func jsonObject(_ response: TestResponse) throws -> [String: Any] {
    try #require(try JSONSerialization.jsonObject(with: Data(response.body.readableBytesView)) as? [String: Any])
}

/// The `error` of a JSON error body.
func errorMessage(_ response: TestResponse) throws -> String {
    #expect(response.headers[.contentType] == "application/json")
    return try #require(try jsonObject(response)["error"] as? String)
}

/// A multipart/form-data body of `file` parts.
func multipart(_ files: [(name: String, type: String, data: Data)], boundary: String = "birder-test-boundary") -> (HTTPFields, ByteBuffer) {
    var body = Data()
    for file in files {
        body += Data("--\(boundary)\r\nContent-Disposition: form-data; name=\"file\"; filename=\"\(file.name)\"\r\nContent-Type: \(file.type)\r\n\r\n".utf8)
        body += file.data
        body += Data("\r\n".utf8)
    }
    body += Data("--\(boundary)--\r\n".utf8)
    return ([.contentType: "multipart/form-data; boundary=\(boundary)"], ByteBuffer(bytes: body))
}

func jpegRequest(_ data: Data = ServerFixtures.jpeg) -> (HTTPFields, ByteBuffer) {
    ([.contentType: "image/jpeg"], ByteBuffer(bytes: data))
}

/// The value of a Prometheus sample line `name{labels} value` whose name and labels start as given.
func metricValue(_ text: String, _ prefix: String) -> Double? {
    text.split(separator: "\n").first { $0.hasPrefix(prefix) }.flatMap { $0.split(separator: " ").last.flatMap { Double($0) } }
}
