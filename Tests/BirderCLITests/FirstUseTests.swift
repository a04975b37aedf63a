import Birder
import Foundation
import Testing
import BirderTestSupport

/// A hub on loopback (`$BIRDER_HUB_URL`) serving a stand-in for a published model: the tiny test
/// checkpoint and its head, listed by a catalogue file (`$BIRDER_CATALOG`) with their real SHA-256
/// and size, so the binary fetches, verifies and runs them as it would the published ones.
struct StandInHub {
    let name: String
    let level: String
    let server: LoopbackHTTPServer
    let root: URL
    let catalog: URL
    let checkpointBytes: [UInt8]

    var checkpointPath: String { "/birder-project/\(name)/resolve/main/\(name).pt" }
    var headPath: String { "/birder-project/\(name)/resolve/main/\(name)-\(level).head.pt" }

    /// - publishedSHA256: what the catalogue says the checkpoint's hash is (default: the true one).
    /// - checkpointRoute: changes to the checkpoint's route (a slow or hung server).
    init(name: String = "rdnet_t_tiny-test", level: String = "order", publishedSHA256: String? = nil,
         checkpointRoute: (inout LoopbackHTTPServer.Route) -> Void = { _ in }) throws {
        self.name = name
        self.level = level
        checkpointBytes = Array(try Data(contentsOf: URL(fileURLWithPath: Fixtures.path("cli/models/rdnet_t_tiny-test.pt"))))
        let headBytes = Array(try Data(contentsOf: URL(fileURLWithPath: Fixtures.path("cli/models/rdnet_t_tiny-test-order.head.pt"))))
        var checkpoint = LoopbackHTTPServer.Route(body: checkpointBytes)
        checkpointRoute(&checkpoint)
        server = try LoopbackHTTPServer(routes: [
            "/birder-project/\(name)/resolve/main/\(name).pt": checkpoint,
            "/birder-project/\(name)/resolve/main/\(name)-\(level).head.pt": .init(body: headBytes),
        ])
        root = try BirderProcess.temporaryDirectory()
        catalog = root.appendingPathComponent("catalog.json")
        let sha = try publishedSHA256 ?? ModelStore.sha256(of: URL(fileURLWithPath: Fixtures.path("cli/models/rdnet_t_tiny-test.pt")))
        let entry: [String: Any] = [
            "name": name, "network": "rdnet_t", "resolution": [64, 64],
            "url": "https://huggingface.co/birder-project/\(name)/resolve/main",
            "size_mb": Double(checkpointBytes.count) / 1_048_576, "sha256": sha, "heads": [level],
            "description": "stand-in: the tiny test checkpoint",
        ]
        try JSONSerialization.data(withJSONObject: [entry]).write(to: catalog)
    }

    /// The hub, the catalogue, and a per-user cache under `root` (no `$BIRDER_MODELS_DIR`).
    var environment: [String: String] {
        ["BIRDER_HUB_URL": server.baseURL, "BIRDER_CATALOG": catalog.path, "BIRDER_MODELS_DIR": "",
         "XDG_CACHE_HOME": root.appendingPathComponent("cache").path, "BIRDER_OFFLINE": ""]
    }

    /// Where the default models directory lands with `environment`.
    var cacheModels: URL { root.appendingPathComponent("cache/birder/models") }

    func gets(_ path: String) -> Int { server.requests.filter { $0.path == path }.count }
}

/// A catalogue model used by name is fetched on first use (verified, once across processes) and
/// reused after; offline, a missing one is refused with what to do.
@Suite(.serialized) struct FirstUseTests {
    let photo = Fixtures.path("cli/photos/a_chelsea.jpg")
    let fm = FileManager.default

    /// The one `error: ` line of a run's stderr ("" when there is not exactly one).
    func errorLine(_ result: BirderProcess.Result) -> String {
        let lines = result.stderr.split(separator: "\n").filter { $0.hasPrefix("error: ") }
        return lines.count == 1 ? String(lines[0]) : ""
    }

    func contents(_ directory: URL) -> [String] { ((try? fm.contentsOfDirectory(atPath: directory.path)) ?? []).sorted() }

    @Test func firstUseDownloadsThenPredictsAndTheSecondUseStaysOffTheNetwork() throws {
        let hub = try StandInHub()
        defer { hub.server.stop() }
        // Run from an empty directory: no ./models, so the per-user cache is the models directory.
        let arguments = ["predict", photo, "--model", hub.name, "--head", "order", "--top-k", "2"]
        let first = try BirderProcess.run(arguments, environment: hub.environment, directory: hub.root)
        #expect(first.status == 0, "\(first.stderr)")
        #expect(hub.gets(hub.checkpointPath) == 1 && hub.gets(hub.headPath) == 1)
        #expect(contents(hub.cacheModels) == ["rdnet_t_tiny-test-order.head.pt", "rdnet_t_tiny-test.pt"])
        #expect(try Data(contentsOf: hub.cacheModels.appendingPathComponent("rdnet_t_tiny-test.pt")) == Data(hub.checkpointBytes))
        #expect(first.stderr.contains("rdnet_t_tiny-test.pt: fetching \(hub.server.baseURL)\(hub.checkpointPath)"))
        #expect(first.stderr.contains("rdnet_t_tiny-test.pt: 0.0 MB, SHA-256 verified"))
        #expect(first.stderr.contains("rdnet_t_tiny-test-order.head.pt: 0.0 MB, loaded as a head"))

        // The predictions are those of the fixture files given by path; stdout holds only them.
        let local = try BirderProcess.run(["predict", photo, "--model", Fixtures.path("cli/models/rdnet_t_tiny-test.pt"),
                                           "--head", Fixtures.path("cli/models/rdnet_t_tiny-test-order.head.pt"), "--top-k", "2"])
        #expect(local.status == 0, "\(local.stderr)")
        let rows = first.stdout.split(separator: "\n")
        #expect(rows.count == 2 && rows.first?.hasPrefix("sample,head,prediction,") == true)
        #expect(first.stdout.replacingOccurrences(of: ",order,", with: ",HEAD,")
                == local.stdout.replacingOccurrences(of: ",rdnet_t_tiny-test-order.head.pt,", with: ",HEAD,"))

        let requests = hub.server.requests.count
        let second = try BirderProcess.run(arguments, environment: hub.environment, directory: hub.root)
        #expect(second.status == 0, "\(second.stderr)")
        #expect(second.stdout == first.stdout)
        #expect(hub.server.requests.count == requests, "the second use made a request")
        #expect(!second.stderr.contains("fetching"))
    }

    @Test func aMissingHeadOfAPresentModelIsFetchedAlone() throws {
        let hub = try StandInHub()
        defer { hub.server.stop() }
        let models = hub.root.appendingPathComponent("models")
        try fm.createDirectory(at: models, withIntermediateDirectories: true)
        try fm.copyItem(atPath: Fixtures.path("cli/models/rdnet_t_tiny-test.pt"), toPath: models.appendingPathComponent("rdnet_t_tiny-test.pt").path)
        // ./models exists in the working directory: it is the models directory.
        let result = try BirderProcess.run(["predict", photo, "--model", hub.name, "--head", "order"],
                                           environment: hub.environment, directory: hub.root)
        #expect(result.status == 0, "\(result.stderr)")
        #expect(hub.gets(hub.checkpointPath) == 0 && hub.gets(hub.headPath) == 1)
        #expect(contents(models) == ["rdnet_t_tiny-test-order.head.pt", "rdnet_t_tiny-test.pt"])
        #expect(!fm.fileExists(atPath: hub.cacheModels.path))
    }

    @Test func twoConcurrentFirstUsesDownloadOnce() throws {
        // The checkpoint's body comes 2 s after its headers: the second process starts while the
        // first one is mid-transfer, holding the lock.
        let hub = try StandInHub { $0.pauseBeforeBody = 2 }
        defer { hub.server.stop() }
        let arguments = ["predict", photo, "--model", hub.name, "--head", "order", "--top-k", "1"]
        let firstResult = UncheckedBox<BirderProcess.Result>()
        let group = DispatchGroup()
        DispatchQueue.global().async(group: group) {
            firstResult.value = try? BirderProcess.run(arguments, environment: hub.environment, directory: hub.root, watchdog: 120)
        }
        let deadline = Date().addingTimeInterval(60)
        while hub.gets(hub.checkpointPath) == 0 && Date() < deadline { usleep(20_000) }
        #expect(hub.gets(hub.checkpointPath) == 1, "the first process never asked for the checkpoint")
        let second = try BirderProcess.run(arguments, environment: hub.environment, directory: hub.root, watchdog: 120)
        group.wait()
        let first = try #require(firstResult.value)
        #expect(first.status == 0, "\(first.stderr)")
        #expect(second.status == 0, "\(second.stderr)")
        #expect(hub.gets(hub.checkpointPath) == 1, "the checkpoint was fetched \(hub.gets(hub.checkpointPath)) times")
        #expect(hub.gets(hub.headPath) == 1, "the head was fetched \(hub.gets(hub.headPath)) times")
        #expect(second.stderr.contains("rdnet_t_tiny-test.pt: another process is fetching it"))
        #expect(second.stdout == first.stdout && !first.stdout.isEmpty)
        #expect(contents(hub.cacheModels) == ["rdnet_t_tiny-test-order.head.pt", "rdnet_t_tiny-test.pt"])
    }

    @Test func offlineRefusesNamingTheFilesTheDirectoryAndTheCommand() throws {
        let hub = try StandInHub()
        defer { hub.server.stop() }
        let models = hub.cacheModels.path
        let expected = "rdnet_t_tiny-test.pt and rdnet_t_tiny-test-order.head.pt are not in \(models) (nor rdnet_t_tiny-test.safetensors)"
        let command = "`birder download rdnet_t_tiny-test --head order --models-dir birder-models`"
        for (flag, variable) in [(["--offline"], ""), ([], "1")] {
            var environment = hub.environment
            environment["BIRDER_OFFLINE"] = variable
            let result = try BirderProcess.run(["predict", photo, "--model", hub.name, "--head", "order"] + flag,
                                               environment: environment, directory: hub.root)
            #expect(result.status == 2)
            #expect(errorLine(result).hasPrefix("error: \(expected), and offline nothing is fetched"), "\(result.stderr)")
            #expect(result.stderr.contains(command))
            #expect(result.stderr.contains("copy those files into \(models)"))
            #expect(result.stdout.isEmpty)
        }
        // `birder download` is network access too.
        var environment = hub.environment
        environment["BIRDER_OFFLINE"] = "1"
        let download = try BirderProcess.run(["download", hub.name], environment: environment, directory: hub.root)
        #expect(download.status == 2 && download.stderr.contains("$BIRDER_OFFLINE is set"))
        #expect(hub.server.requests.isEmpty)

        // Unreachable: the same files and command, with the reason.
        environment = hub.environment
        environment["BIRDER_HUB_URL"] = "http://127.0.0.1:9"
        let unreachable = try BirderProcess.run(["predict", photo, "--model", hub.name], environment: environment,
                                                directory: hub.root, watchdog: 120)
        #expect(unreachable.status == 2)
        #expect(unreachable.stderr.split(separator: "\n").filter { $0.contains("fetching") }.count == 1, "\(unreachable.stderr)")
        #expect(errorLine(unreachable).hasPrefix("error: rdnet_t_tiny-test.pt is not in \(models) (nor rdnet_t_tiny-test.safetensors) and could not be fetched: http://127.0.0.1:9/"), "\(unreachable.stderr)")
        #expect(unreachable.stderr.contains("`birder download rdnet_t_tiny-test --models-dir birder-models` fetches it"))
        #expect(unreachable.stderr.contains("copy that file into \(models)"))
        #expect(contents(hub.cacheModels).isEmpty)
    }

    @Test func aWrongHashLeavesNothingThatBlocksTheNextRun() throws {
        let forged = try StandInHub(publishedSHA256: String(repeating: "ab", count: 32))
        defer { forged.server.stop() }
        let arguments = ["predict", photo, "--model", forged.name, "--head", "order"]
        let refused = try BirderProcess.run(arguments, environment: forged.environment, directory: forged.root)
        #expect(refused.status == 2)
        #expect(refused.stderr.contains("differs from the published \(String(repeating: "ab", count: 32)); the download was deleted"),
                "\(refused.stderr)")
        #expect(contents(forged.cacheModels).isEmpty, "left behind: \(contents(forged.cacheModels))")

        // The same directory with the true hash: fetched and run, nothing in the way.
        let hub = try StandInHub()
        defer { hub.server.stop() }
        var environment = hub.environment
        environment["XDG_CACHE_HOME"] = forged.environment["XDG_CACHE_HOME"]
        let result = try BirderProcess.run(arguments, environment: environment, directory: forged.root, watchdog: 120)
        #expect(result.status == 0, "\(result.stderr)")
        #expect(contents(forged.cacheModels) == ["rdnet_t_tiny-test-order.head.pt", "rdnet_t_tiny-test.pt"])
    }

    @Test func aProcessKilledWhileHoldingTheLockDoesNotBlockTheNext() throws {
        // The first hub sends headers and then nothing: the process holds the lock, waiting.
        let hung = try StandInHub { $0.hangsAfterHeaders = true }
        defer { hung.server.stop() }
        let arguments = ["predict", photo, "--model", hung.name]
        let lock = hung.cacheModels.appendingPathComponent("rdnet_t_tiny-test.pt.lock").path
        let killed = try BirderProcess.run(arguments, environment: hung.environment, directory: hung.root, watchdog: 120) { process in
            let deadline = Date().addingTimeInterval(60)
            while hung.gets(hung.checkpointPath) == 0 && Date() < deadline { usleep(20_000) }
            #expect(fm.fileExists(atPath: lock), "no lock file while fetching")
            kill(process.processIdentifier, SIGKILL)
        }
        #expect(killed.status == SIGKILL)

        let hub = try StandInHub()
        defer { hub.server.stop() }
        var environment = hub.environment
        environment["XDG_CACHE_HOME"] = hung.environment["XDG_CACHE_HOME"]
        let started = Date()
        let result = try BirderProcess.run(arguments, environment: environment, directory: hung.root, watchdog: 120)
        #expect(result.status == 0, "\(result.stderr)")
        #expect(!result.stderr.contains("another process is fetching it"))
        #expect(Date().timeIntervalSince(started) < 60)
        #expect(contents(hung.cacheModels) == ["rdnet_t_tiny-test.pt"])
    }

    @Test func anInvalidCatalogueFileIsNamed() throws {
        let dir = try BirderProcess.temporaryDirectory()
        let catalog = dir.appendingPathComponent("catalog.json")
        try Data(#"[{"name": "../evil", "network": "rdnet_t", "url": "https://x/y", "size_mb": 1, "sha256": "00"}]"#.utf8).write(to: catalog)
        let result = try BirderProcess.run(["predict", photo, "--model", "rdnet_t_ibot-bioscan5m", "--offline"],
                                           environment: ["BIRDER_CATALOG": catalog.path])
        #expect(result.status == 2)
        #expect(errorLine(result).hasPrefix("error: \(catalog.path) ($BIRDER_CATALOG): '../evil': not a plain, unique file name"), "\(result.stderr)")
    }
}
