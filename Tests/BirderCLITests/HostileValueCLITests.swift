import Foundation
import Testing
import BirderCore
import BirderIO
import BirderTestSupport

/// Issue 14, items 2 and 7, through the built binary under a 1 GiB address-space limit and a
/// watchdog: an option out of its documented range or checkpoint metadata out of range is one
/// `error:` line and exit status 2 before any work; `--top-k` above the classes is clamped with one
/// note and exit 0; non-finite outputs fail their image (exit 1); no temporary file is left.
@Suite(.serialized) struct HostileValueCLITests {
    let model = Fixtures.path("cli/models/rdnet_t_tiny-test.pt")
    let photo = Fixtures.path("cli/photos/a_chelsea.jpg")
    let png = Fixtures.path("cli/photos/insects/b_coffee.png")

    /// Exit 2, exactly one error line (naming `naming` when given), nothing on stdout, no hang.
    func expectUsageError(_ arguments: [String], naming: String? = nil, in directory: URL? = nil, stdoutHeader: Bool = false,
                          sourceLocation: SourceLocation = #_sourceLocation) throws {
        let result = try LimitedProcess.run(arguments, directory: directory)
        #expect(!result.hung, sourceLocation: sourceLocation)
        #expect(result.status == 2, "\(arguments): \(result.stderr)", sourceLocation: sourceLocation)
        #expect(result.errorLines.count == 1, "\(result.stderr)", sourceLocation: sourceLocation)
        // probe eval prints its table's header line first; nothing else may reach stdout.
        #expect(result.stdout.split(separator: "\n").count == (stdoutHeader ? 1 : 0), "\(result.stdout)", sourceLocation: sourceLocation)
        if let naming { #expect(result.errorLines.first?.contains(naming) == true, "\(result.stderr)", sourceLocation: sourceLocation) }
    }

    /// Files in `directory` other than `expected` (leftover temporaries).
    func leftovers(_ directory: URL, expected: Set<String>) throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: directory.path).filter { !expected.contains($0) }
    }

    // MARK: Options out of range

    @Test func threadsBeyondTheMaximumAreAUsageError() throws {
        try expectUsageError(["predict", photo, "--model", model, "--threads", "100000"], naming: "--threads")
        try expectUsageError(["embed", photo, "--model", model, "--threads", "0", "--output", "/nonexistent/e.npy"], naming: "--threads")
        try expectUsageError(["bench", "--network", "rdnet_t", "--threads", "100000"], naming: "--threads")
    }

    /// Values the parser itself rejects (not a number, not one of the choices, an unknown option)
    /// exit 2 like every usage error, not ArgumentParser's 64, naming the option.
    @Test func valuesThatDoNotParseExitTwo() throws {
        for (arguments, option) in [(["predict", photo, "--model", model, "--format", "xml"], "--format"),
                                    (["predict", photo, "--model", model, "--threads", "many"], "--threads"),
                                    (["embed", photo, "--model", model, "--output", "/tmp/never.npy", "--no-such-option"], "--no-such-option")] {
            let result = try LimitedProcess.run(arguments)
            #expect(result.status == 2, "\(arguments): \(result.stderr)")
            #expect(result.stderr.contains(option), "\(result.stderr)")
        }
    }

    @Test func batchSizesBeyondTheirRangeAreRefusedBeforeAllocating() throws {
        try expectUsageError(["predict", photo, "--model", model, "--batch-size", "1000000"], naming: "--batch-size")
        try expectUsageError(["embed", photo, "--model", model, "--batch-size", "0", "--output", "/nonexistent/e.npy"], naming: "--batch-size")
        try expectUsageError(["bench", "--network", "rdnet_t", "--batch-size", "1000000"], naming: "--batch-size")
        try expectUsageError(["bench", "--network", "vit_b16_pn", "--size", "100000", "--size", "100000"], naming: "--size")
        try expectUsageError(["bench", "--network", "rdnet_t", "--size", "100000"], naming: "--size")
        try expectUsageError(["bench", "--image", photo, "--size", "224", "--size", "100000"], naming: "--size")
        try expectUsageError(["bench", "--network", "rdnet_t", "--iterations", "0"], naming: "--iterations")
    }

    @Test func helpStatesTheRanges() throws {
        let bench = try LimitedProcess.run(["bench", "--help"])
        #expect(bench.stdout.contains("1…256") && bench.stdout.contains("16…2048") && bench.stdout.contains("1…1024"))
        let predict = try LimitedProcess.run(["predict", "--help"])
        #expect(predict.stdout.contains("1…1024") && predict.stdout.contains("all its classes"))
    }

    @Test func topKAboveTheClassesIsClampedOnceWithExitZero() throws {
        let dir = try BirderProcess.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let output = dir.appendingPathComponent("p.csv").path
        let result = try LimitedProcess.run(["predict", photo, png, "--model", model, "--top-k", "1000000000",
                                             "--output", output])
        #expect(!result.hung)
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.errorLines.isEmpty)
        #expect(result.stderr.components(separatedBy: "--top-k 1000000000").count == 2, "\(result.stderr)")
        let lines = try String(contentsOfFile: output, encoding: .utf8).split(separator: "\n")
        // The classifier has 4 classes: 4 column groups, not a billion.
        #expect(lines.first == "sample,head,prediction" + (0..<4).map { ",class_\($0),prob_\($0),idx_\($0)" }.joined())
        #expect(lines.count == 3)
        #expect(try leftovers(dir, expected: ["p.csv"]).isEmpty)

        let json = try LimitedProcess.run(["predict", photo, "--model", model, "--head", "order", "--top-k", "999", "--format", "jsonl"])
        #expect(json.status == 0 && json.stderr.contains("head 'order'"), "\(json.stderr)")
        #expect(json.stdout.split(separator: "\n").count == 1)
        try expectUsageError(["predict", photo, "--model", model, "--top-k", "0"], naming: "--top-k")
    }

    // MARK: Checkpoint metadata out of range

    func hostileCheckpoint(in dir: URL, _ name: String, _ change: (inout Checkpoint) throws -> Void) throws -> String {
        var checkpoint = try Checkpoint.load(model)
        try change(&checkpoint)
        let path = dir.appendingPathComponent(name).path
        try checkpoint.write(to: path, format: .pt)
        return path
    }

    @Test func hostileCheckpointMetadataIsAnErrorNamingTheCheckpoint() throws {
        let dir = try BirderProcess.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let growth = try hostileCheckpoint(in: dir, "rdnet_t_growth.pt") { checkpoint in
            var config = checkpoint.config ?? [:]
            // Two entries: the fixture's config has two stages.
            config["growth_rates"] = .list(Array(repeating: .int(Int.max / 2), count: 2))
            checkpoint.config = config
        }
        let layers = try hostileCheckpoint(in: dir, "rdnet_t_layers.pt") { checkpoint in
            var config = checkpoint.config ?? [:]
            config["num_blocks_list"] = .list(Array(repeating: .int(Int.max), count: 2))
            checkpoint.config = config
        }
        let side = try hostileCheckpoint(in: dir, "rdnet_t_side.pt") { checkpoint in
            checkpoint.signature = Signature(inputSize: [1_000_000, 1_000_000], numClasses: 4)
        }
        let overflow = try hostileCheckpoint(in: dir, "rdnet_t_overflow.pt") { checkpoint in
            checkpoint.signature = Signature(inputSize: [Int.max, 3], numClasses: Int.max)
        }
        for path in [growth, layers, side, overflow] {
            try expectUsageError(["predict", photo, "--model", path], naming: path)
            try expectUsageError(["embed", photo, "--model", path, "--output", dir.appendingPathComponent("e.npy").path], naming: path)
        }
        #expect(try leftovers(dir, expected: ["rdnet_t_growth.pt", "rdnet_t_layers.pt", "rdnet_t_side.pt", "rdnet_t_overflow.pt"]).isEmpty)
    }

    @Test func aHeadWithZeroClassesIsAnErrorNamingTheHead() throws {
        let dir = try BirderProcess.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let head = dir.appendingPathComponent("empty.head.pt").path
        try Head(weight: Tensor(zeros: [0, 24]), bias: Tensor(zeros: [0]), classNames: []).write(to: head)
        try expectUsageError(["predict", photo, "--model", model, "--head", head], naming: head)
        try expectUsageError(["probe", "eval", "--data", try embeddingsCSV(in: dir), "--head", head], naming: head,
                             stdoutHeader: true)
    }

    // MARK: Non-finite outputs

    @Test func nanWeightsFailEveryImageWithExitOne() throws {
        let dir = try BirderProcess.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let poisoned = try hostileCheckpoint(in: dir, "rdnet_t_nan.pt") { checkpoint in
            let entries = try checkpoint.state.names.map { name -> (String, Tensor) in
                let t = try checkpoint.state.float32Tensor(named: name)
                return (name, name.hasSuffix(".weight") ? Tensor(shape: t.shape, repeating: .nan) : t)
            }
            checkpoint.state = StateDict(float32: entries)
        }
        let output = dir.appendingPathComponent("p.csv").path
        let predict = try LimitedProcess.run(["predict", photo, png, "--model", poisoned, "--output", output])
        #expect(!predict.hung)
        #expect(predict.status == 1, "\(predict.stderr)")
        let lines = predict.errorLines
        #expect(lines.count == 3, "\(predict.stderr)")
        #expect(lines.first?.hasPrefix("error: \(photo): ") == true && lines.first?.contains("not finite") == true)
        #expect(lines.dropFirst().first?.hasPrefix("error: \(png): ") == true)
        let embed = try LimitedProcess.run(["embed", photo, "--model", poisoned, "--output", dir.appendingPathComponent("e.npy").path])
        #expect(embed.status == 1 && embed.errorLines.first?.hasPrefix("error: \(photo): ") == true, "\(embed.stderr)")
        #expect(try leftovers(dir, expected: ["rdnet_t_nan.pt", "p.csv", "e.npy", "e.npy.samples.txt"]).isEmpty)
    }

    /// Five 24-wide embeddings whose labels (parent folder `unknown`) the order head does not know.
    func embeddingsCSV(in dir: URL) throws -> String {
        var text = (["sample"] + (0..<24).map(String.init)).joined(separator: ",") + "\n"
        for i in 0..<5 { text += "unknown/\(i).png," + (0..<24).map { "\(Float($0 + i) / 24)" }.joined(separator: ",") + "\n" }
        let data = dir.appendingPathComponent("data.csv").path
        try text.write(toFile: data, atomically: true, encoding: .utf8)
        return data
    }

    @Test func probeEvalWithNoUsableSampleIsAnError() throws {
        let dir = try BirderProcess.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let data = try embeddingsCSV(in: dir)
        let head = Fixtures.path("cli/models/rdnet_t_tiny-test-order.head.pt")
        let result = try LimitedProcess.run(["probe", "eval", "--data", data, "--head", head])
        #expect(result.status == 2, "\(result.stderr)")
        #expect(result.errorLines.count == 1 && result.errorLines.first?.contains(head) == true, "\(result.stderr)")
        #expect(!result.stdout.contains("%"))
    }
}
