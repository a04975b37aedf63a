import Crypto
import Foundation
import Testing
@testable import BirderHub
import BirderModels
import BirderTestSupport

/// Downloads against a loopback HTTP server: success, resume after a cut, a forged file refused.
@Suite(.serialized) struct DownloaderTests {
    let payload: [UInt8] = (0..<300_000).map { UInt8(truncatingIfNeeded: $0 &* 2_654_435_761 >> 13) }
    var sha: String { SHA256.hash(data: Data(payload)).map { String(format: "%02x", $0) }.joined() }

    func temporaryDirectory() throws -> URL {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("birder-dl-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        return dir
    }

    @Test func downloadsAndVerifies() throws {
        let server = try LoopbackHTTPServer(routes: ["/m.pt": .init(body: payload)])
        defer { server.stop() }
        let dir = try temporaryDirectory()
        let dest = dir.appendingPathComponent("m.pt")
        let outcome = try Downloader().download(from: URL(string: server.baseURL + "/m.pt")!, to: dest,
                                                expecting: .init(sha256: sha))
        #expect(outcome == .downloaded(bytes: Int64(payload.count)))
        #expect(try Data(contentsOf: dest) == Data(payload))
        #expect(!FileManager.default.fileExists(atPath: dest.path + ".partial"))
        // A second call finds the verified file and fetches nothing.
        #expect(try Downloader().download(from: URL(string: server.baseURL + "/m.pt")!, to: dest,
                                          expecting: .init(sha256: sha)) == .alreadyPresent)
        #expect(server.requests.count == 1)
    }

    @Test func resumesAnInterruptedTransfer() throws {
        let server = try LoopbackHTTPServer(routes: ["/m.pt": .init(body: payload, cutFirstResponseAfter: 100_000)])
        defer { server.stop() }
        let dest = try temporaryDirectory().appendingPathComponent("m.pt")
        _ = try Downloader().download(from: URL(string: server.baseURL + "/m.pt")!, to: dest, expecting: .init(sha256: sha))
        #expect(try Data(contentsOf: dest) == Data(payload))
        let requests = server.requests
        #expect(requests.count == 2)
        #expect(requests.last?.range == "bytes=100000-")
    }

    @Test func restartsWhenTheServerIgnoresRange() throws {
        let server = try LoopbackHTTPServer(routes: ["/m.pt": .init(body: payload, cutFirstResponseAfter: 50_000, honoursRange: false)])
        defer { server.stop() }
        let dest = try temporaryDirectory().appendingPathComponent("m.pt")
        _ = try Downloader().download(from: URL(string: server.baseURL + "/m.pt")!, to: dest, expecting: .init(sha256: sha))
        #expect(try Data(contentsOf: dest) == Data(payload))
    }

    @Test func refusesAWrongHashAndLeavesNothing() throws {
        var forged = payload
        forged[1234] ^= 0xFF
        let server = try LoopbackHTTPServer(routes: ["/m.pt": .init(body: forged)])
        defer { server.stop() }
        let dir = try temporaryDirectory()
        let dest = dir.appendingPathComponent("m.pt")
        #expect(throws: DownloadError.self) {
            try Downloader().download(from: URL(string: server.baseURL + "/m.pt")!, to: dest, expecting: .init(sha256: sha))
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path).isEmpty)
    }

    @Test func refusesAnImplausibleSizeBeforeDownloading() throws {
        let server = try LoopbackHTTPServer(routes: ["/m.pt": .init(body: payload)])
        defer { server.stop() }
        let dest = try temporaryDirectory().appendingPathComponent("m.pt")
        let error = #expect(throws: DownloadError.self) {
            try Downloader().download(from: URL(string: server.baseURL + "/m.pt")!, to: dest,
                                      expecting: .init(sha256: sha, plausibleSize: { $0 == 42 }))
        }
        #expect(error == .implausibleSize(url: server.baseURL + "/m.pt", bytes: Int64(payload.count)))
        #expect(!FileManager.default.fileExists(atPath: dest.path))
    }

    @Test func reportsHTTPErrors() throws {
        let server = try LoopbackHTTPServer(routes: [:])
        defer { server.stop() }
        let dest = try temporaryDirectory().appendingPathComponent("m.pt")
        let error = #expect(throws: DownloadError.self) {
            try Downloader().download(from: URL(string: server.baseURL + "/missing.pt")!, to: dest, expecting: .init())
        }
        #expect(error == .http(url: server.baseURL + "/missing.pt", status: 404))
    }

    @Test func hubBaseReplacesHost() throws {
        let model = try #require(PretrainedModel.named("rdnet_t_ibot-bioscan5m"))
        #expect(model.url(for: model.fileName) == "https://huggingface.co/birder-project/rdnet_t_ibot-bioscan5m/resolve/main/rdnet_t_ibot-bioscan5m.pt")
        #expect(model.url(for: model.headFileName("order"), hubBase: "http://127.0.0.1:8080/")
                == "http://127.0.0.1:8080/birder-project/rdnet_t_ibot-bioscan5m/resolve/main/rdnet_t_ibot-bioscan5m-order.head.pt")
        #expect(model.sizeIsPlausible(Int64(87.2 * 1_048_576)))
        #expect(!model.sizeIsPlausible(1_000))
    }
}

extension DownloaderTests {
    /// A refused transfer (wrong size announced, HTTP error) leaves no partial file behind.
    @Test func refusedTransfersLeaveNoPartialFile() throws {
        let server = try LoopbackHTTPServer(routes: ["/m.pt": .init(body: payload)])
        defer { server.stop() }
        let dir = try temporaryDirectory()
        let dest = dir.appendingPathComponent("m.pt")
        _ = #expect(throws: DownloadError.self) {
            try Downloader().download(from: URL(string: server.baseURL + "/m.pt")!, to: dest,
                                      expecting: .init(sha256: sha, plausibleSize: { _ in false }))
        }
        _ = #expect(throws: DownloadError.self) {
            try Downloader().download(from: URL(string: server.baseURL + "/gone.pt")!, to: dest, expecting: .init())
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path).isEmpty)
    }
}

/// What a hostile or broken server can do: no or false Content-Length, an absurd announced size,
/// silence after the headers; and the user stopping a transfer.
extension DownloaderTests {
    @Test func aBodyWithoutContentLengthStopsAtTheLimit() throws {
        let server = try LoopbackHTTPServer(routes: ["/m.pt": .init(body: payload, announcedLength: "")])
        defer { server.stop() }
        let dir = try temporaryDirectory()
        let dest = dir.appendingPathComponent("m.pt")
        let limit = Int64(payload.count / 3)
        let error = #expect(throws: DownloadError.self) {
            try Downloader().download(from: URL(string: server.baseURL + "/m.pt")!, to: dest,
                                      expecting: .init(maximumBytes: limit))
        }
        #expect(error == .tooLarge(url: server.baseURL + "/m.pt", limit: limit))
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path).isEmpty)
        // Within the limit the same server's body is accepted.
        #expect(try Downloader().download(from: URL(string: server.baseURL + "/m.pt")!, to: dest,
                                          expecting: .init(sha256: sha, maximumBytes: Int64(payload.count)))
                == .downloaded(bytes: Int64(payload.count)))
    }

    @Test func anAbsurdAnnouncedSizeIsRefusedBeforeTheBody() throws {
        for announced in ["1000000000000000"] {
            let server = try LoopbackHTTPServer(routes: ["/m.pt": .init(body: payload, announcedLength: announced)])
            defer { server.stop() }
            let dir = try temporaryDirectory()
            let error = #expect(throws: DownloadError.self) {
                try Downloader().download(from: URL(string: server.baseURL + "/m.pt")!, to: dir.appendingPathComponent("m.pt"),
                                          expecting: .init(maximumBytes: 1 << 30))
            }
            #expect(error == .tooLarge(url: server.baseURL + "/m.pt", limit: 1 << 30), "Content-Length \(announced)")
            #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path).isEmpty)
        }
    }

    @Test func aSilentServerTimesOutAndTheBytesSoFarAreKept() throws {
        let server = try LoopbackHTTPServer(routes: ["/m.pt": .init(body: payload, hangsAfterHeaders: true)])
        defer { server.stop() }
        let dest = try temporaryDirectory().appendingPathComponent("m.pt")
        let error = #expect(throws: DownloadError.self) {
            try Downloader(timeout: 1).download(from: URL(string: server.baseURL + "/m.pt")!, to: dest, expecting: .init())
        }
        #expect(error == .timedOut(url: server.baseURL + "/m.pt", seconds: 1))
        #expect(error?.description.contains("timed out after 1 s") == true)
        // Given up once, not retried: a hung server is not a dropped connection.
        #expect(server.requests.count == 1)
        #expect(FileManager.default.fileExists(atPath: dest.path + ".partial"))
    }

    @Test func cancellingStopsAStalledTransfer() throws {
        let server = try LoopbackHTTPServer(routes: ["/m.pt": .init(body: payload, hangsAfterHeaders: true)])
        defer { server.stop() }
        let dest = try temporaryDirectory().appendingPathComponent("m.pt")
        // Cancelled from the start: the transfer must stop on the next check, well before the
        // 60 s data timeout (a hang here fails the test run instead of passing it).
        let error = #expect(throws: DownloadError.self) {
            try Downloader(timeout: 60, isCancelled: { true }).download(from: URL(string: server.baseURL + "/m.pt")!,
                                                                        to: dest, expecting: .init())
        }
        #expect(error == .cancelled(url: server.baseURL + "/m.pt", bytes: 0, waitingFor: nil))
        #expect(error?.description.contains("run again to resume") == true)
    }
}

/// Failures that must leave the directory as it was: no file, no partial, no lock.
extension DownloaderTests {
    @Test func anUnreachableServerIsNamedAndLeavesNothing() throws {
        let dir = try temporaryDirectory()
        let error = #expect(throws: DownloadError.self) {
            // Nothing listens on the discard port of loopback: every attempt is refused at once.
            try Downloader().download(from: URL(string: "http://127.0.0.1:9/m.pt")!, to: dir.appendingPathComponent("m.pt"),
                                      expecting: .init())
        }
        guard case .unreachable(url: "http://127.0.0.1:9/m.pt", _)? = error else {
            Issue.record("expected .unreachable, got \(String(describing: error))")
            return
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path).isEmpty)
    }

    @Test func aFileItsCheckRefusesIsDeletedBeforeItLands() throws {
        let server = try LoopbackHTTPServer(routes: ["/m.pt": .init(body: payload)])
        defer { server.stop() }
        let dir = try temporaryDirectory()
        struct NotAHead: Error, CustomStringConvertible { var description: String { "not a head" } }
        let error = #expect(throws: DownloadError.self) {
            try Downloader().download(from: URL(string: server.baseURL + "/m.pt")!, to: dir.appendingPathComponent("m.pt"),
                                      expecting: .init(check: { partial in
                                          #expect(partial.lastPathComponent == "m.pt.partial")
                                          throw NotAHead()
                                      }))
        }
        #expect(error == .checkFailed(url: server.baseURL + "/m.pt", reason: "not a head"))
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path).isEmpty)
    }

    @Test func theLockIsHeldWhileFetchingAndGoneAfter() throws {
        let server = try LoopbackHTTPServer(routes: ["/m.pt": .init(body: payload)])
        defer { server.stop() }
        let dest = try temporaryDirectory().appendingPathComponent("m.pt")
        let lock = Downloader.lockFile(for: dest).path
        _ = try Downloader().download(from: URL(string: server.baseURL + "/m.pt")!, to: dest, expecting: .init(sha256: sha)) { event in
            if case .transferring = event {
                // Held by this download: another acquisition would have to wait.
                #expect(FileManager.default.fileExists(atPath: lock))
                let other = open(lock, O_RDWR)
                #expect(other >= 0 && flock(other, LOCK_EX | LOCK_NB) != 0)
                close(other)
            }
        }
        #expect(!FileManager.default.fileExists(atPath: lock))
    }
}
