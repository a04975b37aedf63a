import Foundation
import Testing
import BirderCore
import BirderIO
import BirderTestSupport

/// The built `birder` executable on a tiny Birder-written checkpoint and real photos (one of them
/// truncated); numbers are compared with Birder 0.8.4's (tools/reference/make_cli_fixtures.py).
@Suite(.serialized) struct CLIEndToEndTests {
    struct Expected: Decodable {
        struct Image: Decodable {
            let sample: String
            let embedding: [Float]
            let probabilities: [Float]
            let head_probabilities: [Float]
        }
        let classes: [String]
        let head_classes: [String]
        let embedding_size: Int
        let images: [Image]
    }

    let expected: Expected
    let photos = Fixtures.path("cli/photos")
    let model = Fixtures.path("cli/models/rdnet_t_tiny-test.pt")

    init() throws { expected = try Fixtures.json(Expected.self, "cli/expected.json") }

    @Test func predictWithAHeadAsJSON() throws {
        let result = try BirderProcess.run(["predict", photos, "--model", model, "--head", "order", "--top-k", "5",
                                            "--format", "json", "--threads", "2"])
        // One unreadable image: reported, skipped, exit status 1.
        #expect(result.status == 1)
        let errorLines = result.stderr.split(separator: "\n").filter { $0.hasPrefix("error: ") }
        #expect(errorLines.count == 2)
        #expect(errorLines.first?.hasPrefix("error: \(photos)/insects/d_truncated.jpg: ") == true)
        let objects = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [[String: Any]])
        #expect(objects.map { $0["sample"] as? String } == expected.images.map { "\(photos)/\($0.sample)" })
        for (object, reference) in zip(objects, expected.images) {
            let predictions = try #require((object["predictions"] as? [String: Any])?["order"] as? [[String: Any]])
            #expect(predictions.count == 5)
            var probabilities = [Float](repeating: 0, count: 5)
            for entry in predictions {
                let index = try #require(entry["index"] as? Int)
                probabilities[index] = Float(try #require(entry["probability"] as? Double))
                #expect(entry["class"] as? String == expected.head_classes[index])
            }
            let error = relativeError(probabilities, reference.head_probabilities)
            print("predict --head order, \(reference.sample): max |Δ| / max |ref| = \(error)")
            #expect(error <= 1e-4)
            let ranked = predictions.compactMap { $0["probability"] as? Double }
            #expect(ranked == ranked.sorted(by: >))
        }
    }

    @Test func predictThroughTheClassifierAsCSV() throws {
        let dir = try BirderProcess.temporaryDirectory()
        let output = dir.appendingPathComponent("predictions.csv").path
        let result = try BirderProcess.run(["predict", "\(photos)/a_chelsea.jpg", "\(photos)/insects/b_coffee.png",
                                            "--model", model, "--top-k", "2", "--output", output])
        #expect(result.status == 0, "\(result.stderr)")
        let lines = try String(contentsOfFile: output, encoding: .utf8).split(separator: "\n").map(String.init)
        #expect(lines.first == "sample,head,prediction,class_0,prob_0,idx_0,class_1,prob_1,idx_1")
        #expect(lines.count == 3)
        for (line, reference) in zip(lines.dropFirst(), expected.images.prefix(2)) {
            let fields = line.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
            #expect(fields[0] == "\(photos)/\(reference.sample)")
            #expect(fields[1] == "classifier")
            let best = reference.probabilities.indices.max { reference.probabilities[$0] < reference.probabilities[$1] }!
            #expect(fields[2] == expected.classes[best])
            #expect(Int(fields[5]) == best)
            #expect(abs(Float(fields[4])! - reference.probabilities[best]) <= 1e-4)
        }
    }

    @Test func embedWritesNpyWithSamples() throws {
        let dir = try BirderProcess.temporaryDirectory()
        let output = dir.appendingPathComponent("embeddings.npy").path
        let result = try BirderProcess.run(["embed", photos, "--model", model, "--output", output, "--batch-size", "2"])
        #expect(result.status == 1)
        let matrix = try NPY.readFloat32(output)
        #expect(matrix.shape == [3, expected.embedding_size])
        let error = relativeError(matrix.scalars, expected.images.flatMap(\.embedding))
        print("embed: max |Δ| / max |ref| = \(error)")
        #expect(error <= 1e-4)
        let samples = try String(contentsOfFile: output + ".samples.txt", encoding: .utf8)
        #expect(samples == expected.images.map { "\(photos)/\($0.sample)\n" }.joined())
    }

    /// `embed --output X.parquet` writes Birder's Parquet embeddings (checked with Birder's own
    /// loader by tools/reference/make_parquet_fixtures.py --check-swift), which `cluster` reads back.
    @Test func embedWritesParquetThatClusterReads() throws {
        let dir = try BirderProcess.temporaryDirectory()
        let output = dir.appendingPathComponent("embeddings.parquet").path
        let result = try BirderProcess.run(["embed", photos, "--model", model, "--output", output, "--batch-size", "2"])
        #expect(result.status == 1)
        let rows = try ParquetEmbeddingsReader.readAll(path: output)
        #expect(rows.samples == expected.images.map { "\(photos)/\($0.sample)" })
        #expect(rows.dimension == expected.embedding_size && rows.labels == nil)
        #expect(relativeError(rows.embeddings, expected.images.flatMap(\.embedding)) <= 1e-4)
        // the same numbers as the .npy output, bit for bit
        let npy = dir.appendingPathComponent("embeddings.npy").path
        _ = try BirderProcess.run(["embed", photos, "--model", model, "--output", npy, "--batch-size", "2"])
        #expect(try NPY.readFloat32(npy).scalars.map(\.bitPattern) == rows.embeddings.map(\.bitPattern))
        let clustered = try BirderProcess.run(["cluster", "--data", output])
        #expect(clustered.status == 0, "\(clustered.stderr)")
        #expect(clustered.stdout.hasPrefix("AMI "))
    }

    /// `predict --save-results` on an ImageFolder of the photos writes Birder's results CSV: the
    /// same lines as the file Birder itself wrote for these images (tools/reference/
    /// make_results_fixtures.py), probabilities within float noise of Birder's.
    @Test func predictSavesBirdersResultsFiles() throws {
        let dir = try BirderProcess.temporaryDirectory()
        for (photo, folder) in [("a_chelsea.jpg", "Coleoptera"), ("insects/b_coffee.png", "Lepidoptera"), ("insects/c_chelsea.webp", "unsorted")] {
            let target = dir.appendingPathComponent("labelled/\(folder)")
            try FileManager.default.createDirectory(at: target, withIntermediateDirectories: true)
            try FileManager.default.copyItem(atPath: "\(photos)/\(photo)",
                                             toPath: target.appendingPathComponent((photo as NSString).lastPathComponent).path)
        }
        let result = try BirderProcess.run(["predict", "labelled", "--model", model, "--save-results", "r.csv",
                                            "--save-sparse-results", "r_sparse.csv", "--save-output", "out.csv"], directory: dir)
        #expect(result.status == 0, "\(result.stderr)")
        let ours = try String(contentsOfFile: dir.appendingPathComponent("r.csv").path, encoding: .utf8).split(separator: "\n")
        let birders = try String(contentsOfFile: Fixtures.path("results/photos.csv"), encoding: .utf8).split(separator: "\n")
        #expect(ours.count == birders.count && ours.count == 5)
        #expect(ours.prefix(2) == birders.prefix(2))
        for (a, b) in zip(ours.dropFirst(2), birders.dropFirst(2)) {
            let x = a.split(separator: ",", omittingEmptySubsequences: false), y = b.split(separator: ",", omittingEmptySubsequences: false)
            #expect(x.prefix(4) == y.prefix(4))
            let difference = zip(x.dropFirst(4), y.dropFirst(4)).map { abs(Double($0)! - Double($1)!) }.max() ?? 1
            #expect(difference <= 1e-5, "\(a) vs \(b)")
        }
        let sparse = try String(contentsOfFile: dir.appendingPathComponent("r_sparse.csv").path, encoding: .utf8).split(separator: "\n")
        #expect(sparse[1] == "sample,label,label_name,prediction,prob_0,idx_0,prob_1,idx_1,prob_2,idx_2,prob_3,idx_3")
        let output = try String(contentsOfFile: dir.appendingPathComponent("out.csv").path, encoding: .utf8).split(separator: "\n")
        #expect(output[0] == "sample,label,prediction,Coleoptera,Diptera,Hymenoptera,Lepidoptera")
        #expect(output[3].hasPrefix("labelled/unsorted/c_chelsea.webp,-1,Hymenoptera,"))

        // Birder's short report, word for word as Birder logs it for this file
        let summarized = try BirderProcess.run(["predict", "labelled", "--model", model, "--summary", "--summary-json", "s.json"],
                                               directory: dir)
        #expect(summarized.status == 0, "\(summarized.stderr)")
        let report = try #require(try Fixtures.json([String: [String]].self, "results/summaries.json")["photos.csv"])
        let printed = summarized.stderr.split(separator: "\n").map(String.init)
        for line in report { #expect(printed.contains(line), "\(line)") }
        #expect(printed.contains("  Coleoptera: 1 labelled, 0 correct, 1 predicted"))
        let summaryJSON = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: dir.appendingPathComponent("s.json"))) as? [String: Any])
        #expect(summaryJSON["labelled"] as? Int == 2 && summaryJSON["top_k_accuracy"] as? Double == 1.0)

        let twoHeads = try BirderProcess.run(["predict", "labelled", "--model", model, "--head", "order",
                                              "--head", Fixtures.path("cli/models/rdnet_t_tiny-test-order.head.pt"),
                                              "--save-results", "r2.csv"], directory: dir)
        #expect(twoHeads.status == 2 && twoHeads.stderr.contains("put {head} in the path"), "\(twoHeads.stderr)")
        #expect(!FileManager.default.fileExists(atPath: dir.appendingPathComponent("r2.csv").path))
    }

    /// `--center-crop` / `--simple-crop` give Birder's embeddings under those options
    /// (tools/reference/make_preprocessing_fixtures.py); a crop that leaves nothing is a usage error.
    @Test func embedWithBirdersPreprocessingFlags() throws {
        struct Fixture: Decodable {
            struct Image: Decodable { let sample: String; let embedding: [Float] }
            struct Case: Decodable { let center_crop: Double; let simple_crop: Bool; let images: [Image] }
            let cases: [Case]
        }
        let fixture = try Fixtures.json(Fixture.self, "cli/preprocessing.json")
        let dir = try BirderProcess.temporaryDirectory()
        for testCase in fixture.cases.prefix(2) {
            let output = dir.appendingPathComponent("e.csv").path
            let result = try BirderProcess.run(["embed", "\(photos)/a_chelsea.jpg", "--model", model, "--output", output,
                                                "--center-crop", "\(testCase.center_crop)"] + (testCase.simple_crop ? ["--simple-crop"] : []))
            #expect(result.status == 0, "\(result.stderr)")
            let row = try #require(try String(contentsOfFile: output, encoding: .utf8).split(separator: "\n").last)
            let values = row.split(separator: ",").dropFirst().map { Float($0)! }
            #expect(relativeError(values, testCase.images[0].embedding) <= 1e-4)
        }
        let refused = try BirderProcess.run(["embed", "\(photos)/a_chelsea.jpg", "--model", model, "--output",
                                             dir.appendingPathComponent("x.csv").path, "--center-crop", "0"])
        #expect(refused.status == 2 && refused.stderr.contains("--center-crop"))
    }

    @Test(arguments: ["csv", "safetensors"])
    func embedOtherFormats(ext: String) throws {
        let dir = try BirderProcess.temporaryDirectory()
        let output = dir.appendingPathComponent("embeddings.\(ext)").path
        let result = try BirderProcess.run(["embed", "\(photos)/a_chelsea.jpg", "--model", model, "--output", output])
        #expect(result.status == 0, "\(result.stderr)")
        let values: [Float]
        if ext == "csv" {
            let lines = try String(contentsOfFile: output, encoding: .utf8).split(separator: "\n")
            #expect(lines[0] == (["sample"] + (0..<expected.embedding_size).map(String.init)).joined(separator: ","))
            values = lines[1].split(separator: ",").dropFirst().map { Float($0)! }
        } else {
            let file = try Safetensors.load(output)
            values = try file.tensors.float32Tensor(named: "embedding").scalars
            #expect(file.metadata["samples"] == "[\"\(photos)/a_chelsea.jpg\"]")
        }
        #expect(relativeError(values, expected.images[0].embedding) <= 1e-4)
    }

    @Test func featuresWritesEveryStage() throws {
        let dir = try BirderProcess.temporaryDirectory()
        let output = dir.appendingPathComponent("features.safetensors").path
        let result = try BirderProcess.run(["features", "\(photos)/a_chelsea.jpg", "--model", model, "--output", output])
        #expect(result.status == 0, "\(result.stderr)")
        let file = try Safetensors.load(output)
        // The tiny config has two dense stages and one downsampling: stage1 at stride 4, stage2 at 8.
        #expect(file.tensors.shape(of: "stage1") == [1, 16, 16, 16])
        #expect(file.tensors.shape(of: "stage2") == [1, 24, 8, 8])
    }

    @Test func wrongHeadWidthIsAUsageError() throws {
        let dir = try BirderProcess.temporaryDirectory()
        let output = dir.appendingPathComponent("p.csv").path
        let result = try BirderProcess.run(["predict", photos, "--model", model,
                                            "--head", Fixtures.path("cli/models/wrong-width.head.pt"), "--output", output])
        #expect(result.status == 2)
        #expect(result.stderr.contains("takes \(expected.embedding_size + 1)-wide embeddings"))
        #expect(result.stderr.split(separator: "\n").count == 1)
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path).isEmpty)
    }

    @Test func unknownModelAndUnwritableOutput() throws {
        let unknown = try BirderProcess.run(["predict", photos, "--model", "no_such_model"])
        #expect(unknown.status == 2)
        #expect(unknown.stderr.hasPrefix("error: unknown model 'no_such_model'"))
        let unwritable = try BirderProcess.run(["embed", photos, "--model", model, "--output", "/nonexistent/dir/e.npy"])
        #expect(unwritable.status == 2)
        #expect(unwritable.stderr.contains("/nonexistent/dir"))
        let missing = try BirderProcess.run(["predict", photos, "--model", "rdnet_t_ibot-bioscan5m", "--models-dir", "/nonexistent", "--offline"])
        #expect(missing.status == 2)
        #expect(missing.stderr.contains("birder download rdnet_t_ibot-bioscan5m"))
    }

    @Test func infoReportsTheCheckpoint() throws {
        let result = try BirderProcess.run(["info", model, "--json"])
        #expect(result.status == 0, "\(result.stderr)")
        let object = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
        #expect(object["num_classes"] as? Int == 4)
        #expect(object["input_size"] as? [Int] == [64, 64])
        let hostile = try BirderProcess.run(["info", Fixtures.path("io/hostile_os_system.pt")])
        #expect(hostile.status != 0)
        #expect(hostile.stderr.contains("os"))
    }

    @Test func modelsListsTheNetworksOfTheRegistry() throws {
        let result = try BirderProcess.run(["models", "--networks"])
        #expect(result.status == 0, "\(result.stderr)")
        let lines = result.stdout.split(separator: "\n")
        #expect(lines.first == "rdnet: rdnet_t rdnet_s rdnet_b rdnet_l")
        #expect(lines.contains { $0.hasPrefix("vit: ") && $0.split(separator: " ").contains("vit_b16_pn") })
    }

    @Test func benchReportsImagesPerSecond() throws {
        let result = try BirderProcess.run(["bench", "--network", "rdnet_t", "--batch-size", "1", "--iterations", "1",
                                            "--size", "64", "--size", "64", "--json"])
        #expect(result.status == 0, "\(result.stderr)")
        let object = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
        #expect((object["images_per_second"] as? Double ?? 0) > 0)
        #expect(object["network"] as? String == "rdnet_t")
        let isa = ProcessInfo.processInfo.environment["BIRDER_ISA"].flatMap { $0.isEmpty ? nil : $0 } ?? InstructionSet.best.rawValue
        #expect(object["instruction_set"] as? String == isa)
        let portable = try BirderProcess.run(["bench", "--network", "rdnet_t", "--batch-size", "1", "--iterations", "1",
                                              "--size", "64", "--size", "64", "--json"], environment: ["BIRDER_ISA": "portable"])
        let chosen = try #require(try JSONSerialization.jsonObject(with: Data(portable.stdout.utf8)) as? [String: Any])
        #expect(chosen["instruction_set"] as? String == "portable")
        let unknown = try BirderProcess.run(["bench", "--network", "rdnet_t", "--isa", "sse9"])
        #expect(unknown.status == 2 && unknown.stderr.contains("unknown instruction set 'sse9'"))
    }

    @Test func downloadRefusesAForgedFileAndLeavesNothing() throws {
        let forged = [UInt8](repeating: 7, count: 4096)
        let server = try LoopbackHTTPServer(routes: [
            "/birder-project/rdnet_t_ibot-bioscan5m/resolve/main/rdnet_t_ibot-bioscan5m.pt": .init(body: forged)])
        defer { server.stop() }
        let dir = try BirderProcess.temporaryDirectory()
        let result = try BirderProcess.run(["download", "rdnet_t_ibot-bioscan5m", "--models-dir", dir.path],
                                           environment: ["BIRDER_HUB_URL": server.baseURL])
        #expect(result.status == 2)
        #expect(result.stderr.contains("not the published size"))
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path).isEmpty)
        let models = try BirderProcess.run(["models", "--json", "--models-dir", dir.path])
        let rows = try #require(try JSONSerialization.jsonObject(with: Data(models.stdout.utf8)) as? [[String: Any]])
        #expect(rows.contains { $0["name"] as? String == "rdnet_t_ibot-bioscan5m" && $0["status"] as? String == "missing" })
    }
}

extension CLIEndToEndTests {
    /// `probe` on an image folder with `--model`: embedded once (the truncated photo reported and left
    /// out), cached, and the second command reads the cache instead of decoding again.
    @Test func evaluationCommandsEmbedImageFoldersThroughACache() throws {
        let dir = try BirderProcess.temporaryDirectory()
        let cache = dir.appendingPathComponent("cache").path
        let head = dir.appendingPathComponent("photos.head.pt").path
        let trained = try BirderProcess.run(["probe", "train", "--train", photos, "--model", model, "--cache-dir", cache,
                                             "--epochs", "2", "--output", head])
        #expect(trained.status == 0, "\(trained.stderr)")
        #expect(trained.stderr.contains("error: \(photos)/insects/d_truncated.jpg: "))
        #expect(try Head.load(head).classNames == ["insects", "photos"])
        let cached = try FileManager.default.contentsOfDirectory(atPath: cache).filter { $0.hasSuffix(".npy") }
        #expect(cached.count == 1)
        let embeddings = try NPY.readFloat32((cache as NSString).appendingPathComponent(cached[0]))
        #expect(relativeError(embeddings.scalars, expected.images.flatMap(\.embedding)) <= 1e-4)

        let evaluated = try BirderProcess.run(["probe", "eval", "--data", photos, "--model", model, "--cache-dir", cache, "--head", head])
        #expect(evaluated.status == 0, "\(evaluated.stderr)")
        #expect(evaluated.stderr.contains("cached embeddings"))
        #expect(!evaluated.stderr.contains("d_truncated"))
        #expect(evaluated.stdout.split(separator: "\n").last?.contains("photos.head.pt") == true)

        let refused = try BirderProcess.run(["cluster", "--data", photos])
        #expect(refused.status == 2)
        #expect(refused.stderr.contains("is a directory: pass --model"))
    }
}
