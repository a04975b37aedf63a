import BirderTestSupport
import Foundation
import Testing
@testable import Birder

/// Streaming, resumable and sharded runs through the library, on the tiny RDNet of the CLI
/// fixtures: a run stopped at any image and resumed writes the same bytes as one that was not;
/// shards merged write the same bytes as one process.
@Suite struct CollectionRunTests {
    static let modelPath = Fixtures.path("cli/models/rdnet_t_tiny-test.pt")
    static let photos = Fixtures.path("cli/photos")

    /// 13 images (the three readable fixture photos and the truncated one, repeated): failures
    /// mid-list, and more than one batch of 4.
    static func manifest() throws -> ImageManifest {
        let photos = try ImageCollection.paths([Self.photos])
        return ImageManifest(paths: (0..<13).map { photos[$0 % photos.count] })
    }

    func directory() throws -> URL {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("birder-run-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        return dir
    }

    func session(heads: [String] = []) throws -> InferenceSession {
        try InferenceSession(model: try BirderModel.load(Self.modelPath, heads: heads), context: testContext, batchSize: 4)
    }

    func bytes(_ path: String) throws -> Data { try Data(contentsOf: URL(fileURLWithPath: path)) }

    // MARK: Shards

    @Test func shardsSplitTheListIntoContiguousNearlyEqualParts() throws {
        for total in [0, 1, 7, 13, 1000] {
            for count in [1, 2, 3, 8, 13] {
                let ranges = try (0..<count).map { try Shard(index: $0, count: count).range(of: total) }
                #expect(ranges.first?.lowerBound == 0 && ranges.last?.upperBound == total)
                for (a, b) in zip(ranges, ranges.dropFirst()) { #expect(a.upperBound == b.lowerBound) }
                let sizes = ranges.map(\.count)
                #expect(sizes.max()! - sizes.min()! <= 1, "\(total)/\(count): \(sizes)")
            }
        }
        #expect(try Shard(parsing: "3/8") == Shard(index: 3, count: 8))
        for bad in ["8/8", "-1/8", "3", "a/b", "0/0", "1/2/3"] {
            #expect(throws: ShardError.self, "\(bad)") { try Shard(parsing: bad) }
        }
        #expect(try Shard(index: 3, count: 8).outputPath("out/emb.npy") == "out/emb.shard-0003-of-0008.npy")
        #expect(try Shard(index: 3, count: 8).outputPath("out/{shard}/p.csv") == "out/0003-of-0008/p.csv")
        #expect(try Shard(index: 12, count: 20000).outputPath("a.b/predictions") == "a.b/predictions.shard-00012-of-20000")
    }

    @Test func shardsComeFromTheScheduler() throws {
        // Slurm: --array=0-7 (task 3), --array=10-24:2 (task 14 is the third), a disagreeing count.
        #expect(try Shard.fromEnvironment(["SLURM_ARRAY_TASK_ID": "3", "SLURM_ARRAY_TASK_MIN": "0", "SLURM_ARRAY_TASK_COUNT": "8"])
                == Shard(index: 3, count: 8))
        #expect(try Shard.fromEnvironment(["SLURM_ARRAY_TASK_ID": "14", "SLURM_ARRAY_TASK_MIN": "10", "SLURM_ARRAY_TASK_STEP": "2",
                                           "SLURM_ARRAY_TASK_COUNT": "8"]) == Shard(index: 2, count: 8))
        // With --shard-count the array index is the shard: a resubmitted --array=3 still runs shard 3/8.
        #expect(try Shard.fromEnvironment(["SLURM_ARRAY_TASK_ID": "3", "SLURM_ARRAY_TASK_MIN": "3", "SLURM_ARRAY_TASK_COUNT": "1"], count: 8)
                == Shard(index: 3, count: 8))
        #expect(throws: ShardError.self) {
            try Shard.fromEnvironment(["SLURM_ARRAY_TASK_ID": "8", "SLURM_ARRAY_TASK_MIN": "0", "SLURM_ARRAY_TASK_COUNT": "9"], count: 8)
        }
        // Kubernetes Indexed Job and AWS Batch: the index from the environment, the count given.
        #expect(try Shard.fromEnvironment(["JOB_COMPLETION_INDEX": "5"], count: 6) == Shard(index: 5, count: 6))
        #expect(try Shard.fromEnvironment(["AWS_BATCH_JOB_ARRAY_INDEX": "0"], count: 2) == Shard(index: 0, count: 2))
        #expect(throws: ShardError.self) { try Shard.fromEnvironment(["JOB_COMPLETION_INDEX": "5"]) }
        #expect(throws: ShardError.self) { try Shard.fromEnvironment(["JOB_COMPLETION_INDEX": "6"], count: 6) }
        #expect(throws: ShardError.noScheduler) { try Shard.fromEnvironment(["PATH": "/bin"], count: 6) }
    }

    // MARK: Manifests

    @Test func manifestsRoundTripAndRefuseEdits() throws {
        let dir = try directory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let (scanned, walk) = try ImageManifest.scan([Self.photos])
        #expect(walk.unreadableFolders.isEmpty)
        #expect(scanned.paths == (try ImageCollection.paths([Self.photos])))
        #expect(scanned.entries.allSatisfy { $0.size > 0 && $0.modified.contains(".") })
        let path = dir.appendingPathComponent("m.tsv").path
        try scanned.write(to: path)
        #expect(try ImageManifest.read(path) == scanned)
        // A plain list of the same paths names the same work.
        let list = dir.appendingPathComponent("list.txt").path
        try ("# my photos\n" + scanned.paths.joined(separator: "\n") + "\n\n").write(toFile: list, atomically: true, encoding: .utf8)
        #expect(try ImageManifest.read(list).listHash == scanned.listHash)
        // A line removed, or a path changed: refused, naming the file.
        let text = try String(contentsOfFile: path, encoding: .utf8)
        var lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        lines.remove(at: 3)
        try lines.joined(separator: "\n").write(toFile: path, atomically: true, encoding: .utf8)
        #expect { try ImageManifest.read(path) } throws: { "\($0)".hasPrefix(path + ": ") && "\($0)".contains("edited or truncated") }
        try text.replacingOccurrences(of: "a_chelsea", with: "a_chelsee").write(toFile: path, atomically: true, encoding: .utf8)
        #expect(throws: ImageManifestError.self) { try ImageManifest.read(path) }
        #expect(!ImageManifest.canBeListed("a\tb.jpg") && !ImageManifest.canBeListed("a\nb.jpg"))
    }

    // MARK: Resume

    /// Every embedding format and the prediction formats: stopped after `stop` images (a
    /// signal's path) and resumed, the output equals an uninterrupted run's, byte for byte.
    @Test(arguments: [1, 5, 12])
    func aStoppedRunResumedWritesTheSameBytes(stop: Int) throws {
        let dir = try directory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let manifest = try Self.manifest()
        let session = try session(heads: ["order"])
        for name in ["e.npy", "e.csv", "e.safetensors", "e.parquet", "p.csv", "p.json", "p.jsonl", "p.wide"] {
            // Parquet holds rows until a row group (1,024 rows) is full: its journal records group
            // ends only, here the start.
            let checkpoint = name.hasSuffix(".parquet") ? 0 : stop
            let whole = dir.appendingPathComponent("whole-" + name).path, part = dir.appendingPathComponent(name).path
            func run(_ output: String, resume: Bool = false, stopAfter: Int? = nil) throws -> CollectionRunOutcome {
                var seen = 0
                let request = CollectionRun(manifest: manifest, output: output, resume: resume)
                let progress: (CollectionRunProgress) -> Void = { _ in seen += 1 }
                let shouldStop = { stopAfter.map { seen >= $0 } ?? false }
                return name.hasPrefix("e.")
                    ? try session.embed(request, progress: progress, shouldStop: shouldStop)
                    : try session.classify(request, topK: 2, format: PredictionFormat(path: name)!, progress: progress, shouldStop: shouldStop)
            }
            #expect(try run(whole) == .completed(rows: 10, failed: 3, resumedAt: 0))
            #expect(try run(part, stopAfter: stop) == .stopped(done: checkpoint, total: 13, journal: part + ".journal"))
            #expect(!FileManager.default.fileExists(atPath: part))
            // Without --resume the journal is not overwritten.
            #expect(throws: RunError.journalExists(journal: part + ".journal", done: checkpoint, of: 13)) { try run(part) }
            #expect(try run(part, resume: true) == .completed(rows: 10, failed: 3, resumedAt: checkpoint), "\(name)")
            #expect(try bytes(part) == bytes(whole), "\(name) resumed after \(stop)")
            if name.hasSuffix(".npy") { #expect(try bytes(part + ".samples.txt") == bytes(whole + ".samples.txt")) }
            let left = try FileManager.default.contentsOfDirectory(atPath: dir.path).filter { $0.contains("partial") || $0.contains("journal") }
            #expect(left.isEmpty, "left behind: \(left)")
        }
    }

    @Test func aJournalOfAnotherRunIsRefused() throws {
        let dir = try directory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let manifest = try Self.manifest(), session = try session()
        let output = dir.appendingPathComponent("e.npy").path
        var seen = 0
        _ = try session.embed(CollectionRun(manifest: manifest, output: output), progress: { _ in seen += 1 }, shouldStop: { seen >= 5 })
        // Another list of images.
        let other = ImageManifest(paths: Array(manifest.paths.reversed()))
        #expect { try session.embed(CollectionRun(manifest: other, output: output, resume: true)) } throws: {
            "\($0)".contains("cannot resume: the list of images differs")
        }
        // Another model: the same network with a head attached is another checksum.
        let withHead = try InferenceSession(model: try BirderModel.load(Self.modelPath, heads: ["order"]), context: testContext, batchSize: 4)
        #expect { try withHead.embed(CollectionRun(manifest: manifest, output: output, resume: true)) } throws: {
            "\($0)".contains("cannot resume: the model (checkpoint or heads) differs")
        }
        // Other preprocessing gives other rows.
        let cropped = try InferenceSession(model: try BirderModel.load(Self.modelPath).withPreprocessing(centerCrop: 0.875),
                                           context: testContext, batchSize: 4)
        #expect { try cropped.embed(CollectionRun(manifest: manifest, output: output, resume: true)) } throws: {
            "\($0)".contains("cannot resume: the options differ") && "\($0)".contains("center-crop=0.875")
        }
        // A partial file cut short behind the journal's back.
        let partial = output + ".partial"
        try Data(try bytes(partial).prefix(100)).write(to: URL(fileURLWithPath: partial))
        #expect { try session.embed(CollectionRun(manifest: manifest, output: output, resume: true)) } throws: {
            "\($0)".contains("fewer than the") && "\($0)".hasPrefix(partial)
        }
    }

    @Test func wideRowsHoldEachHeadsBestClassAndBlankBelowTheThreshold() throws {
        let dir = try directory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let manifest = try Self.manifest(), session = try session(heads: ["order"])
        let narrow = dir.appendingPathComponent("p.csv").path, wide = dir.appendingPathComponent("w.csv").path
        _ = try session.classify(CollectionRun(manifest: manifest, output: narrow), topK: 1)
        _ = try session.classify(CollectionRun(manifest: manifest, output: wide), format: .wide)
        let narrowRows = try String(contentsOfFile: narrow, encoding: .utf8).split(separator: "\n").map { $0.split(separator: ",").map(String.init) }
        let wideRows = try String(contentsOfFile: wide, encoding: .utf8).split(separator: "\n").map { $0.split(separator: ",", omittingEmptySubsequences: false).map(String.init) }
        #expect(wideRows[0] == ["sample", "order", "order_probability"])
        #expect(wideRows.count == narrowRows.count && wideRows.count == 11)
        for (w, n) in zip(wideRows.dropFirst(), narrowRows.dropFirst()) {
            // csv: sample, head, prediction, class_0, prob_0, idx_0
            #expect(w == [n[0], n[2], n[4]])
        }
        let strict = dir.appendingPathComponent("strict.csv").path
        let threshold = wideRows.dropFirst().compactMap { Float($0[2]) }.max()!
        _ = try session.classify(CollectionRun(manifest: manifest, output: strict), format: .wide, minimumConfidence: threshold)
        let strictRows = try String(contentsOfFile: strict, encoding: .utf8).split(separator: "\n").dropFirst()
            .map { $0.split(separator: ",", omittingEmptySubsequences: false).map(String.init) }
        for (s, w) in zip(strictRows, wideRows.dropFirst()) {
            #expect(s[2] == w[2] && s[1] == (Float(w[2])! >= threshold ? w[1] : ""), "\(s)")
        }
        #expect(strictRows.contains { $0[1].isEmpty } && strictRows.contains { !$0[1].isEmpty })
    }

    // MARK: Shards and merge

    @Test func mergedShardsEqualOneProcess() throws {
        let dir = try directory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let manifest = try Self.manifest(), session = try session(heads: ["order"])
        let whole = dir.appendingPathComponent("whole.npy").path
        _ = try session.embed(CollectionRun(manifest: manifest, output: whole))
        _ = try session.classify(CollectionRun(manifest: manifest, output: whole + ".csv"), topK: 3)
        let count = 5
        var embeddings: [String] = [], predictions: [String] = []
        for index in (0..<count).reversed() {
            let shard = try Shard(index: index, count: count)
            let run = CollectionRun(manifest: manifest, shard: shard, output: dir.appendingPathComponent("s/e.npy").path)
            try FileManager.default.createDirectory(atPath: dir.appendingPathComponent("s").path, withIntermediateDirectories: true)
            guard case .completed = try session.embed(run) else { Issue.record("shard \(shard) did not run"); continue }
            let record = try ShardRecord.read(run.destination! + ".done")
            #expect(try session.embed(run) == .alreadyDone(record: run.destination! + ".done", rows: record.rows, failed: record.failed))
            embeddings.append(run.destination!)
            let predicting = CollectionRun(manifest: manifest, shard: shard, output: dir.appendingPathComponent("s/p.csv").path)
            _ = try session.classify(predicting, topK: 3)
            predictions.append(predicting.destination!)
        }
        for format in ["npy", "csv", "safetensors", "parquet"] {
            let merged = dir.appendingPathComponent("merged.\(format)").path
            #expect(try ShardMerge.merge(embeddings, into: merged) == ShardMerge.Summary(rows: 10, failed: 3, shards: count))
            let reference = dir.appendingPathComponent("whole-ref.\(format)").path
            _ = try session.embed(CollectionRun(manifest: manifest, output: reference))
            #expect(try bytes(merged) == bytes(reference), "\(format)")
        }
        _ = try ShardMerge.merge(predictions, into: dir.appendingPathComponent("merged.csv").path)
        #expect(try bytes(dir.appendingPathComponent("merged.csv").path) == bytes(whole + ".csv"))

        // A missing shard, a shard given twice, a shard of another run: refused, naming them.
        #expect { try ShardMerge.merge(Array(embeddings.dropLast()), into: dir.appendingPathComponent("m.npy").path) } throws: {
            "\($0)".contains("missing 1 of 5 shards (0/5)")
        }
        #expect { try ShardMerge.merge(embeddings + [embeddings[0]], into: dir.appendingPathComponent("m.npy").path) } throws: {
            "\($0)".contains("is shard 4/5, as is")
        }
        let record = embeddings[1] + ".done"
        var foreign = try ShardRecord.read(record)
        foreign.identity.model = "sha256:0000"
        try writeRecord(foreign, to: record)
        #expect { try ShardMerge.merge(embeddings, into: dir.appendingPathComponent("m.npy").path) } throws: {
            "\($0)".hasPrefix(embeddings[1]) && "\($0)".contains("the model (checkpoint or heads) differs")
        }
        // A finished shard's record from another model is not silently reused.
        let shard = try Shard(index: 3, count: count)
        #expect(throws: RunError.self) {
            try session.embed(CollectionRun(manifest: manifest, shard: shard, output: dir.appendingPathComponent("s/e.npy").path))
        }
        #expect(!FileManager.default.fileExists(atPath: dir.appendingPathComponent("m.npy").path))
    }
}

extension PredictionFormat {
    init?(path: String) { self.init(rawValue: (path as NSString).pathExtension) }
}
