import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import Testing
import BirderTestSupport

/// The real `birder serve` on 127.0.0.1 (an ephemeral port): answers equal `birder predict`'s on
/// the same photos, and SIGTERM finishes the request in flight and exits 0.
@Suite(.serialized) struct ServeCLITests {
    let model = Fixtures.path("cli/models/rdnet_t_tiny-test.pt")
    let photos = ["a_chelsea.jpg", "insects/b_coffee.png", "insects/c_chelsea.webp"].map { Fixtures.path("cli/photos/\($0)") }

    @Test func servedPredictionsEqualPredictsAndSIGTERMFinishesInFlightWork() throws {
        // A batching delay long enough to have a request in the queue when SIGTERM comes.
        let server = try ServeProcess(["serve", "--model", "\(model):order", "--port", "0", "--threads", "2",
                                       "--max-queue-delay-ms", "1500", "--max-batch-size", "8"])
        defer { server.kill() }
        try server.waitUntilReady()

        let predict = try BirderProcess.run(["predict"] + photos + ["--model", model, "--head", "order", "--top-k", "5",
                                                                    "--format", "json", "--threads", "2"])
        #expect(predict.status == 0, "\(predict.stderr)")
        let expected = try #require(try JSONSerialization.jsonObject(with: Data(predict.stdout.utf8)) as? [[String: Any]])

        // All three at once, so they share a batch.
        let answers = UncheckedBox<[Int: [String: Any]]>()
        answers.value = [:]
        let lock = NSLock()
        DispatchQueue.concurrentPerform(iterations: photos.count) { i in
            let type = ["image/jpeg", "image/png", "image/webp"][i]
            let response = try? server.request("/v2/models/rdnet_t_tiny-test/classify?top_k=5&name=\(URL(fileURLWithPath: photos[i]).lastPathComponent)",
                                               method: "POST", headers: ["Content-Type": type],
                                               body: try? Data(contentsOf: URL(fileURLWithPath: photos[i])))
            if let response, response.status == 200, let object = try? JSONSerialization.jsonObject(with: response.body) as? [String: Any] {
                lock.withLock { answers.value![i] = object }
            }
        }
        for (i, reference) in expected.enumerated() {
            let answer = try #require(answers.value?[i], "no answer for \(photos[i])")
            let served = try #require(((answer["predictions"] as? [[String: Any]])?.first?["heads"] as? [String: Any])?["order"] as? [[String: Any]])
            let predicted = try #require((reference["predictions"] as? [String: Any])?["order"] as? [[String: Any]])
            #expect(served.map { $0["class"] as? String } == predicted.map { $0["class"] as? String })
            #expect(served.map { $0["index"] as? Int } == predicted.map { $0["index"] as? Int })
            // Both print each float's shortest round-trip text: equal text, equal bits.
            #expect(served.map { Float(($0["probability"] as? Double) ?? .nan) } == predicted.map { Float(($0["probability"] as? Double) ?? .nan) })
        }

        // SIGTERM while a request waits in the queue: it is answered, then the process exits 0.
        let inFlight = UncheckedBox<ServeProcess.Response>()
        let done = DispatchSemaphore(value: 0)
        DispatchQueue.global().async {
            inFlight.value = try? server.request("/v2/models/rdnet_t_tiny-test/embed", method: "POST",
                                                 headers: ["Content-Type": "image/jpeg"], body: try? Data(contentsOf: URL(fileURLWithPath: photos[0])))
            done.signal()
        }
        try server.waitForQueuedImages(1)
        server.signal(SIGTERM)
        #expect(done.wait(timeout: .now() + 30) == .success)
        #expect(inFlight.value?.status == 200)
        let embeddings = inFlight.value.flatMap { try? JSONSerialization.jsonObject(with: $0.body) as? [String: Any] }?["embeddings"] as? [[String: Any]]
        #expect(embeddings?.count == 1)
        let status = try #require(server.waitForExit(seconds: 30), "birder serve did not exit after SIGTERM")
        #expect(status == 0, "\(server.stderr)")
        #expect((try? server.request("/v2/health/live")) == nil, "the port still answers after shutdown")
    }

    @Test func badOptionsAreUsageErrors() throws {
        let noModel = try BirderProcess.run(["serve", "--model", "/nonexistent/model.pt", "--port", "0"], watchdog: 60)
        #expect(noModel.status != 0)
        #expect(noModel.stderr.contains("/nonexistent/model.pt"))
        let badQueue = try BirderProcess.run(["serve", "--model", model, "--max-queue", "0"], watchdog: 60)
        #expect(badQueue.status == 2)
        #expect(badQueue.stderr.contains("--max-queue 0 is out of range"))
        let dir = try BirderProcess.temporaryDirectory()
        let keyFile = dir.appendingPathComponent("key").path
        try Data("\n".utf8).write(to: URL(fileURLWithPath: keyFile))
        let emptyKey = try BirderProcess.run(["serve", "--model", model, "--api-key-file", keyFile], watchdog: 60)
        #expect(emptyKey.status == 2)
        #expect(emptyKey.stderr.contains("--api-key-file \(keyFile)"))
    }
}

/// `birder serve` running in the background: its port from its "listening on" line, HTTP requests
/// to it, signals.
final class ServeProcess: @unchecked Sendable {
    struct Response {
        let status: Int
        let body: Data
    }

    let process = Process()
    private let lock = NSLock()
    private var errorText = ""
    private(set) var port = 0

    /// Its messages and log lines.
    var stderr: String { lock.withLock { errorText } }

    init(_ arguments: [String]) throws {
        process.executableURL = BirderProcess.executable
        process.arguments = arguments
        let err = Pipe()
        process.standardError = err
        process.standardOutput = FileHandle.nullDevice
        err.fileHandleForReading.readabilityHandler = { [weak self] handle in
            let data = handle.availableData
            guard let self, !data.isEmpty else { return }
            self.lock.withLock { self.errorText += String(decoding: data, as: UTF8.self) }
        }
        try process.run()
    }

    /// Waits for the port, then for /v2/health/ready to answer 200.
    func waitUntilReady(seconds: Double = 120) throws {
        let deadline = Date().addingTimeInterval(seconds)
        while port == 0 {
            if let range = stderr.range(of: #"listening on http://127\.0\.0\.1:(\d+)"#, options: .regularExpression),
               let number = Int(stderr[range].split(separator: ":").last ?? "") {
                port = number
                break
            }
            guard Date() < deadline, process.isRunning else { throw ServeTestError.notStarted(stderr) }
            Thread.sleep(forTimeInterval: 0.05)
        }
        while (try? request("/v2/health/ready"))?.status != 200 {
            guard Date() < deadline, process.isRunning else { throw ServeTestError.notStarted(stderr) }
            Thread.sleep(forTimeInterval: 0.05)
        }
    }

    func waitForQueuedImages(_ images: Int) throws {
        try waitForMetric("birder_queued_images{model=\"rdnet_t_tiny-test\"}", images)
    }

    /// Polls /metrics until the sample `name{labels}` has `value`; throws after `seconds`.
    func waitForMetric(_ sample: String, _ value: Int, seconds: Double = 30) throws {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if (try? metric(sample)) == Double(value) { return }
            Thread.sleep(forTimeInterval: 0.01)
        }
        throw ServeTestError.metricNotReached(sample, value, (try? request("/metrics")).map { String(decoding: $0.body, as: UTF8.self) } ?? "")
    }

    /// The value of the sample `name{labels}` in /metrics, or nil where it has none.
    func metric(_ sample: String) throws -> Double? {
        let text = String(decoding: try request("/metrics").body, as: UTF8.self)
        return text.split(separator: "\n").first { $0.hasPrefix(sample + " ") }.flatMap { $0.split(separator: " ").last.flatMap { Double($0) } }
    }

    /// Resident memory of the server process, from /proc.
    var residentBytes: Int? {
        guard let status = try? String(contentsOfFile: "/proc/\(process.processIdentifier)/status", encoding: .utf8),
              let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmRSS:") }),
              let kilobytes = line.split(separator: " ").dropFirst().first.flatMap({ Int($0) }) else { return nil }
        return kilobytes * 1024
    }

    func request(_ path: String, method: String = "GET", headers: [String: String] = [:], body: Data? = nil) throws -> Response {
        var request = URLRequest(url: URL(string: "http://127.0.0.1:\(port)\(path)")!)
        request.httpMethod = method
        request.httpBody = body
        request.timeoutInterval = 60
        for (name, value) in headers { request.setValue(value, forHTTPHeaderField: name) }
        let session = URLSession(configuration: .ephemeral)
        defer { session.finishTasksAndInvalidate() }
        let result = UncheckedBox<Result<Response, any Error>>()
        let done = DispatchSemaphore(value: 0)
        session.dataTask(with: request) { data, response, error in
            if let error { result.value = .failure(error) } else {
                result.value = .success(Response(status: (response as? HTTPURLResponse)?.statusCode ?? 0, body: data ?? Data()))
            }
            done.signal()
        }.resume()
        done.wait()
        return try result.value!.get()
    }

    func signal(_ number: Int32) { Foundation.kill(process.processIdentifier, number) }

    /// The exit status, or nil if it is still running after `seconds`.
    func waitForExit(seconds: Double) -> Int32? {
        let deadline = Date().addingTimeInterval(seconds)
        while process.isRunning && Date() < deadline { Thread.sleep(forTimeInterval: 0.05) }
        return process.isRunning ? nil : process.terminationStatus
    }

    func kill() {
        if process.isRunning { Foundation.kill(process.processIdentifier, SIGKILL); process.waitUntilExit() }
    }
}

enum ServeTestError: Error, CustomStringConvertible {
    case notStarted(String)
    case metricNotReached(String, Int, String)

    var description: String {
        switch self {
        case let .notStarted(stderr): return "birder serve did not become ready; stderr:\n\(stderr)"
        case let .metricNotReached(sample, value, text): return "\(sample) never reached \(value); /metrics:\n\(text)"
        }
    }
}
