import BirderTestSupport
import Foundation
import Testing

/// `predict` and `embed` on collections through the binary: killed with SIGKILL mid-run and
/// resumed, the output is byte-identical to an uninterrupted run's; a journal of another run is
/// refused; shards taken from a scheduler's environment, merged, equal one process.
@Suite(.serialized) struct CollectionRunCLITests {
    let model = Fixtures.path("cli/models/rdnet_t_tiny-test.pt")
    let fm = FileManager.default

    /// A folder of `count` symbolic links to two fixture photos (no copies, no hard-link limit).
    func collection(_ count: Int) throws -> URL {
        let dir = try BirderProcess.temporaryDirectory().appendingPathComponent("photos")
        try fm.createDirectory(at: dir, withIntermediateDirectories: true)
        let sources = [Fixtures.path("cli/photos/a_chelsea.jpg"), Fixtures.path("cli/photos/insects/b_coffee.png")]
        for i in 0..<count {
            let source = sources[i % 2]
            try fm.createSymbolicLink(atPath: dir.appendingPathComponent(String(format: "p%04d.", i) + (source as NSString).pathExtension).path,
                                      withDestinationPath: source)
        }
        return dir
    }

    func bytes(_ path: String) throws -> Data { try Data(contentsOf: URL(fileURLWithPath: path)) }

    /// Images the journal of `output` records as done (0 before it exists).
    func journaled(_ output: String) -> Int {
        guard let data = fm.contents(atPath: output + ".journal"),
              let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else { return 0 }
        return object["done"] as? Int ?? 0
    }

    @Test(arguments: ["e.npy", "p.csv"])
    func killedRunResumesToTheSameBytes(name: String) throws {
        let photos = try collection(96)
        let out = try BirderProcess.temporaryDirectory()
        let command = name.hasSuffix(".npy") ? "embed" : "predict"
        func arguments(_ output: String) -> [String] {
            [command, photos.path, "--model", model, "--output", output, "--batch-size", "4", "--threads", "1"]
        }
        let whole = out.appendingPathComponent("whole-" + name).path, output = out.appendingPathComponent(name).path
        let reference = try BirderProcess.run(arguments(whole), watchdog: 300)
        #expect(reference.status == 0, "\(reference.stderr)")

        // SIGKILL once the journal records a few batches: nothing can clean up.
        var doneAtKill = 0
        let killed = try BirderProcess.run(arguments(output), watchdog: 300) { process in
            while process.isRunning, journaled(output) < 12 { usleep(2_000) }
            doneAtKill = journaled(output)
            kill(process.processIdentifier, SIGKILL)
        }
        #expect(killed.status == SIGKILL, "\(killed.stderr)")
        #expect(doneAtKill >= 12 && doneAtKill < 96, "killed after \(doneAtKill)")
        #expect(!fm.fileExists(atPath: output) && fm.fileExists(atPath: output + ".journal"))

        // A plain rerun refuses to overwrite the interrupted run, naming its journal.
        let refused = try BirderProcess.run(arguments(output), watchdog: 300)
        #expect(refused.status == 2, "\(refused.stderr)")
        #expect(refused.stderr.contains("error: \(output).journal: an interrupted run of this output exists"), "\(refused.stderr)")

        let resumed = try BirderProcess.run(arguments(output) + ["--resume"], watchdog: 300)
        #expect(resumed.status == 0, "\(resumed.stderr)")
        let resumedAt = resumed.stderr.split(separator: "\n").first { $0.hasPrefix("resumed after ") }
        // At most one batch (4 images) past the last journal record is computed again.
        let recomputed = resumedAt.flatMap { Int($0.split(separator: " ")[2]) }.map { 96 - $0 }
        #expect(recomputed != nil && recomputed! <= 96 - doneAtKill + 4, "\(resumed.stderr)")
        #expect(try bytes(output) == bytes(whole))
        if name.hasSuffix(".npy") { #expect(try bytes(output + ".samples.txt") == bytes(whole + ".samples.txt")) }
        #expect(try fm.contentsOfDirectory(atPath: out.path).filter { $0.contains("journal") || $0.contains("partial") }.isEmpty)
    }

    @Test func resumingWithAnotherListOrModelIsRefused() throws {
        let photos = try collection(40)
        let out = try BirderProcess.temporaryDirectory()
        let output = out.appendingPathComponent("e.csv").path
        let killed = try BirderProcess.run(["embed", photos.path, "--model", model, "--output", output, "--batch-size", "4"], watchdog: 300) { process in
            while process.isRunning, journaled(output) < 4 { usleep(2_000) }
            kill(process.processIdentifier, SIGKILL)
        }
        #expect(killed.status == SIGKILL)
        // Another list: one image fewer.
        let list = out.appendingPathComponent("list.txt").path
        let paths = try fm.contentsOfDirectory(atPath: photos.path).sorted().dropLast().map { photos.appendingPathComponent($0).path }
        try paths.joined(separator: "\n").write(toFile: list, atomically: true, encoding: .utf8)
        let otherList = try BirderProcess.run(["embed", "--files-from", list, "--model", model, "--output", output, "--resume"], watchdog: 120)
        #expect(otherList.status == 2)
        #expect(otherList.stderr.contains("error: \(output).journal: cannot resume: the list of images differs (40 then, 39 now)"), "\(otherList.stderr)")
        // The model is its bytes: a renamed copy of the same checkpoint continues the run.
        let copy = out.appendingPathComponent("renamed.pt").path
        try fm.copyItem(atPath: model, toPath: copy)
        let sameBytes = try BirderProcess.run(["embed", photos.path, "--model", copy, "--output", output, "--resume"], watchdog: 300)
        #expect(sameBytes.status == 0, "\(sameBytes.stderr)")
        // A head attached is another model.
        let headed = out.appendingPathComponent("p.csv").path
        let stopped = try BirderProcess.run(["predict", photos.path, "--model", model, "--output", headed, "--batch-size", "4"], watchdog: 300) { process in
            while process.isRunning, journaled(headed) < 4 { usleep(2_000) }
            kill(process.processIdentifier, SIGKILL)
        }
        #expect(stopped.status == SIGKILL)
        let withHead = try BirderProcess.run(["predict", photos.path, "--model", model, "--head", "order", "--output", headed, "--resume"], watchdog: 120)
        #expect(withHead.status == 2)
        #expect(withHead.stderr.contains("cannot resume: the model (checkpoint or heads) differs"), "\(withHead.stderr)")
        // --resume needs a file to journal.
        let toStdout = try BirderProcess.run(["predict", photos.path, "--model", model, "--resume"], watchdog: 120)
        #expect(toStdout.status == 2 && toStdout.stderr.contains("--shard and --resume need --output"), "\(toStdout.stderr)")
    }

    @Test func slurmArrayShardsMergeIntoTheSingleProcessOutput() throws {
        let photos = try collection(30)
        let out = try BirderProcess.temporaryDirectory()
        let manifest = out.appendingPathComponent("manifest.tsv").path
        let listed = try BirderProcess.run(["manifest", photos.path, "--output", manifest], watchdog: 120)
        #expect(listed.status == 0, "\(listed.stderr)")
        #expect(try String(contentsOfFile: manifest, encoding: .utf8).hasPrefix("# birder manifest v1\timages=30\tlist-sha256="))
        let whole = out.appendingPathComponent("whole.npy").path
        #expect(try BirderProcess.run(["embed", photos.path, "--model", model, "--output", whole], watchdog: 300).status == 0)

        // An array --array=1-4: tasks 1…4 are shards 0…3.
        let output = out.appendingPathComponent("e.npy").path
        var shards: [String] = []
        for task in 1...4 {
            let environment = ["SLURM_ARRAY_TASK_ID": "\(task)", "SLURM_ARRAY_TASK_MIN": "1", "SLURM_ARRAY_TASK_COUNT": "4"]
            let run = try BirderProcess.run(["embed", "--files-from", manifest, "--model", model, "--output", output, "--shard", "auto"],
                                            environment: environment, watchdog: 300)
            #expect(run.status == 0, "\(run.stderr)")
            let shard = out.appendingPathComponent("e.shard-000\(task - 1)-of-0004.npy").path
            #expect(run.stderr.contains("\(shard): \(task == 1 || task == 3 ? 7 : 8)×24 embeddings (shard \(task - 1)/4)"), "\(run.stderr)")
            shards.append(shard)
            // Run again (a requeued task): skipped.
            let again = try BirderProcess.run(["embed", "--files-from", manifest, "--model", model, "--output", output, "--shard", "auto"],
                                              environment: environment, watchdog: 300)
            #expect(again.status == 0 && again.stderr.contains("already done"), "\(again.stderr)")
        }
        // --shard auto outside an array job is an error.
        let notArray = try BirderProcess.run(["embed", photos.path, "--model", model, "--output", out.appendingPathComponent("x.npy").path,
                                              "--shard", "auto"], watchdog: 120)
        #expect(notArray.status == 2 && notArray.stderr.contains("--shard auto: no array task found"), "\(notArray.stderr)")

        let merged = out.appendingPathComponent("merged.npy").path
        let merge = try BirderProcess.run(["merge"] + shards.reversed() + ["--output", merged], watchdog: 120)
        #expect(merge.status == 0, "\(merge.stderr)")
        #expect(try bytes(merged) == bytes(whole) && bytes(merged + ".samples.txt") == bytes(whole + ".samples.txt"))
        let incomplete = try BirderProcess.run(["merge"] + shards.dropLast() + ["--output", out.appendingPathComponent("m2.npy").path], watchdog: 120)
        #expect(incomplete.status == 2 && incomplete.stderr.contains("missing 1 of 4 shards (3/4)"), "\(incomplete.stderr)")
        #expect(!fm.fileExists(atPath: out.appendingPathComponent("m2.npy").path))
    }

    /// The Kubernetes recipe cannot run here: its contract is run instead. Each completion index's
    /// pod command (from tools/cluster/kubernetes/birder-indexed-job.yaml, with the fixture model)
    /// under JOB_COMPLETION_INDEX, then the merge Job's command, equal one process.
    @Test func kubernetesIndexedJobCommandsMergeIntoTheSingleProcessOutput() throws {
        let recipes = Fixtures.root.deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("tools/cluster/kubernetes")
        func command(_ file: String) throws -> [String] {
            let yaml = try String(contentsOf: recipes.appendingPathComponent(file), encoding: .utf8)
            let line = try #require(yaml.split(separator: "\n").first { $0.trimmingCharacters(in: .whitespaces).hasPrefix("command: [") })
            let json = line[line.range(of: "command: ")!.upperBound...]
            return try #require(try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String])
        }
        let yaml = try String(contentsOf: recipes.appendingPathComponent("birder-indexed-job.yaml"), encoding: .utf8)
        let completions = try #require(yaml.split(separator: "\n").first { $0.contains("completions:") }
            .flatMap { Int($0.split(separator: ":")[1].trimmingCharacters(in: .whitespaces)) })
        var pod = try command("birder-indexed-job.yaml")
        #expect(pod.first == "birder")
        let countIndex = try #require(pod.firstIndex(of: "--shard-count"))
        #expect(Int(pod[countIndex + 1]) == completions, "completions must equal --shard-count")
        pod[try #require(pod.firstIndex(of: "--model")) + 1] = model

        let data = try BirderProcess.temporaryDirectory()
        let photos = try collection(20)
        #expect(try BirderProcess.run(["manifest", photos.path, "--output", "manifest.tsv"], directory: data, watchdog: 120).status == 0)
        try fm.createDirectory(at: data.appendingPathComponent("out"), withIntermediateDirectories: true)
        for index in 0..<completions {
            let run = try BirderProcess.run(Array(pod.dropFirst()), environment: ["JOB_COMPLETION_INDEX": "\(index)"], directory: data, watchdog: 300)
            #expect(run.status == 0, "index \(index): \(run.stderr)")
        }
        let merge = try command("birder-merge-job.yaml")
        #expect(merge.prefix(2) == ["sh", "-c"])
        let script = merge[2].replacingOccurrences(of: "exec birder ", with: "exec \"$0\" ")
        let merged = try BirderProcess.run(["-c", script, BirderProcess.executable.path], directory: data,
                                           executable: URL(fileURLWithPath: "/bin/sh"), watchdog: 120)
        #expect(merged.status == 0, "\(merged.stderr)")
        let single = try BirderProcess.run(["embed", "--files-from", "manifest.tsv", "--model", model, "--output", "single.npy"], directory: data, watchdog: 300)
        #expect(single.status == 0)
        #expect(try bytes(data.appendingPathComponent("emb.npy").path) == bytes(data.appendingPathComponent("single.npy").path))
        // Without --shard-count the index alone is refused.
        let alone = try BirderProcess.run(["embed", "--files-from", "manifest.tsv", "--model", model, "--output", "x.npy", "--shard", "auto"],
                                          environment: ["JOB_COMPLETION_INDEX": "0"], directory: data, watchdog: 120)
        #expect(alone.status == 2 && alone.stderr.contains("give the number of shards with --shard-count"), "\(alone.stderr)")
    }
}
