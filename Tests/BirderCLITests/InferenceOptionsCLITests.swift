import Foundation
import Testing
import Birder
import BirderIO
import BirderTestSupport

/// `predict --save-logits`, `--tta`, `--size` and the skipped-files note, through the built binary,
/// against Birder 0.8.4's numbers and files (tools/reference/make_inference_options_fixtures.py).
@Suite(.serialized) struct InferenceOptionsCLITests {
    struct Fixture: Decodable {
        struct Image: Decodable { let sample: String; let logits: [Float]; let tta_probabilities: [Float] }
        struct SizeCase: Decodable { let model: String; let size: [Int]; let embeddings: [[Float]] }
        struct LoaderCase: Decodable { let center_crop: Double; let simple_crop: Bool; let embeddings: [[Float]] }
        let images: [Image]
        let sizes: [SizeCase]
        let tv: [LoaderCase]
    }

    let fixture: Fixture
    let photos = Fixtures.path("cli/photos")
    let model = Fixtures.path("cli/models/rdnet_t_tiny-test.pt")

    init() throws { fixture = try Fixtures.json(Fixture.self, "cli/inference_options.json") }

    /// The photos as an ImageFolder, as the fixture script names them for Birder's files.
    func labelledFolder() throws -> URL {
        let dir = try BirderProcess.temporaryDirectory()
        for (photo, folder) in [("a_chelsea.jpg", "Coleoptera"), ("insects/b_coffee.png", "Lepidoptera"), ("insects/c_chelsea.webp", "unsorted")] {
            let target = dir.appendingPathComponent("labelled/\(folder)")
            try FileManager.default.createDirectory(at: target, withIntermediateDirectories: true)
            try FileManager.default.copyItem(atPath: "\(photos)/\(photo)", toPath: target.appendingPathComponent((photo as NSString).lastPathComponent).path)
        }
        return dir
    }

    static func rows(_ path: URL) throws -> [[Substring]] {
        try String(contentsOf: path, encoding: .utf8).split(separator: "\n").map { $0.split(separator: ",", omittingEmptySubsequences: false) }
    }

    /// Birder's `--save-logits` CSV: the same header, samples and labels as the file Birder wrote,
    /// logits within float noise; `.parquet` gives Parquet (read back in BirderIOTests).
    @Test func saveLogitsWritesBirdersFile() throws {
        let dir = try labelledFolder()
        let result = try BirderProcess.run(["predict", "labelled", "--model", model, "--save-logits", "logits.csv",
                                            "--save-output", "out.parquet", "--save-results", "r.csv"], directory: dir)
        #expect(result.status == 0, "\(result.stderr)")
        let ours = try Self.rows(dir.appendingPathComponent("logits.csv"))
        let birders = try Self.rows(Fixtures.url("cli/birder_logits.csv"))
        #expect(ours.count == 4 && ours[0] == birders[0])
        for (a, b) in zip(ours.dropFirst(), birders.dropFirst()) {
            #expect(a.prefix(2) == b.prefix(2))
            let x = a.dropFirst(2).map { Float($0)! }, y = b.dropFirst(2).map { Float($0)! }
            #expect(relativeError(x, y) <= 1e-4, "\(a) vs \(b)")
        }
        let parquet = [UInt8](try Data(contentsOf: dir.appendingPathComponent("out.parquet")))
        #expect(parquet.prefix(4).elementsEqual("PAR1".utf8) && parquet.suffix(4).elementsEqual("PAR1".utf8))

        let logitsParquet = try BirderProcess.run(["predict", "labelled", "--model", model, "--save-logits", "l.parquet"], directory: dir)
        #expect(logitsParquet.status == 0, "\(logitsParquet.stderr)")
        #expect(FileManager.default.fileExists(atPath: dir.appendingPathComponent("l.parquet").path))
    }

    /// `--tta`: Birder's five-crop average, in the results file.
    @Test func ttaMatchesBirder() throws {
        let dir = try labelledFolder()
        let result = try BirderProcess.run(["predict", "labelled", "--model", model, "--tta", "--save-output", "o.csv"], directory: dir)
        #expect(result.status == 0, "\(result.stderr)")
        let rows = try Self.rows(dir.appendingPathComponent("o.csv"))
        #expect(rows.count == 4)
        for (row, image) in zip(rows.dropFirst(), fixture.images) {
            #expect(relativeError(row.dropFirst(3).map { Float($0)! }, image.tta_probabilities) <= 1e-4, "\(row)")
        }
    }

    /// `--size` on a ViT (position embedding resized) and an RDNet; bad sizes refused before work.
    @Test func sizeMatchesBirderAndBadSizesAreRefused() throws {
        let dir = try BirderProcess.temporaryDirectory()
        let testCase = try #require(fixture.sizes.first { $0.model.hasPrefix("vit") && $0.size == [96, 128] })
        let output = dir.appendingPathComponent("e.csv").path
        let result = try BirderProcess.run(["embed", "\(photos)/a_chelsea.jpg", "--model", Fixtures.path("cli/models/\(testCase.model)"),
                                            "--network", "vit_b16_pn", "--size", "96", "--size", "128", "--output", output])
        #expect(result.status == 0, "\(result.stderr)")
        let row = try #require(try String(contentsOfFile: output, encoding: .utf8).split(separator: "\n").last)
        #expect(relativeError(row.split(separator: ",").dropFirst().map { Float($0)! }, testCase.embeddings[0]) <= 1e-4)

        let square = try #require(fixture.sizes.first { $0.model.hasPrefix("rdnet") && $0.size == [96, 96] })
        let squared = try BirderProcess.run(["embed", "\(photos)/a_chelsea.jpg", "--model", model, "--size", "96", "--output", output])
        #expect(squared.status == 0, "\(squared.stderr)")
        let squareRow = try #require(try String(contentsOfFile: output, encoding: .utf8).split(separator: "\n").last)
        #expect(relativeError(squareRow.split(separator: ",").dropFirst().map { Float($0)! }, square.embeddings[0]) <= 1e-4)

        for (arguments, naming) in [(["--size", "8"], "--size 8 is out of range 16…2048"),
                                    (["--size", "64", "--size", "64", "--size", "64"], "--size takes one side"),
                                    (["--size", "80"], "multiple of 32")] {
            let refused = try BirderProcess.run(["predict", "\(photos)/a_chelsea.jpg", "--model", model] + arguments)
            #expect(refused.status == 2 && refused.stderr.hasPrefix("error: ") && refused.stderr.contains(naming), "\(refused.stderr)")
            #expect(refused.stdout.isEmpty)
        }
    }

    /// `--img-loader tv` gives Birder's numbers under its torchvision loader; a bad value is refused.
    @Test func torchvisionImageLoader() throws {
        let dir = try BirderProcess.temporaryDirectory()
        let output = dir.appendingPathComponent("e.csv").path
        let testCase = try #require(fixture.tv.first { $0.center_crop == 0.875 })
        let result = try BirderProcess.run(["embed", "\(photos)/a_chelsea.jpg", "--model", model, "--img-loader", "tv",
                                            "--center-crop", "0.875", "--output", output])
        #expect(result.status == 0, "\(result.stderr)")
        let row = try #require(try String(contentsOfFile: output, encoding: .utf8).split(separator: "\n").last)
        #expect(relativeError(row.split(separator: ",").dropFirst().map { Float($0)! }, testCase.embeddings[0]) <= 1e-5)
        let refused = try BirderProcess.run(["embed", "\(photos)/a_chelsea.jpg", "--model", model, "--img-loader", "cv2", "--output", output])
        #expect(refused.status == 2 && refused.stderr.contains("--img-loader"), "\(refused.stderr)")
    }

    /// Files of unknown formats in a folder are counted once on stderr; the exit status is unchanged.
    @Test func skippedFilesAreReportedOnce() throws {
        let dir = try BirderProcess.temporaryDirectory()
        try FileManager.default.copyItem(atPath: "\(photos)/a_chelsea.jpg", toPath: dir.appendingPathComponent("a.jpg").path)
        for name in ["notes.txt", "b.xyz", "c.xyz"] { try Data("x".utf8).write(to: dir.appendingPathComponent(name)) }
        let result = try BirderProcess.run(["predict", dir.path, "--model", model])
        #expect(result.status == 0, "\(result.stderr)")
        let notes = result.stderr.split(separator: "\n").filter { $0.contains("skipped") }
        #expect(notes.count == 1 && notes[0].hasPrefix("note: 3 files skipped (not an image format the engine reads: 2 .xyz, 1 .txt;"),
                "\(result.stderr)")
        #expect(result.stdout.split(separator: "\n").count == 2)
    }

    /// `probe train --model` records the encoder in the head; `predict` takes it on that model and
    /// refuses a head recording another checkpoint unless --allow-foreign-head.
    @Test func headsRecordTheirEncoder() throws {
        let dir = try labelledFolder()
        let cache = dir.appendingPathComponent("cache").path
        let trained = try BirderProcess.run(["probe", "train", "--train", "labelled", "--model", model, "--cache-dir", cache,
                                             "--epochs", "2", "--output", "own.head.pt"], directory: dir)
        #expect(trained.status == 0, "\(trained.stderr)")
        let own = try Head.load(dir.appendingPathComponent("own.head.pt").path)
        let record = try BirderModel.load(model).encoderRecord()
        #expect(own.encoder == record && record.network == "rdnet_t" && record.checkpointSHA256.count == 64)
        #expect(own.birderVersion == "0.8.4")
        let used = try BirderProcess.run(["predict", "labelled", "--model", model, "--head", "own.head.pt"], directory: dir)
        #expect(used.status == 0, "\(used.stderr)")

        let foreign = Head(weight: own.weight, bias: own.bias, classNames: own.classNames,
                           encoder: HeadEncoder(network: "rdnet_t", checkpointSHA256: String(repeating: "0", count: 64)))
        try foreign.write(to: dir.appendingPathComponent("foreign.head.pt").path)
        let refused = try BirderProcess.run(["predict", "labelled", "--model", model, "--head", "foreign.head.pt"], directory: dir)
        #expect(refused.status == 2 && refused.stdout.isEmpty, "\(refused.stderr)")
        #expect(refused.stderr.hasPrefix("error: ") && refused.stderr.contains(
            "foreign.head.pt: this head was trained on embeddings of rdnet_t (checkpoint sha256 000000000000…)"), "\(refused.stderr)")
        #expect(refused.stderr.contains("--allow-foreign-head"))
        let allowed = try BirderProcess.run(["predict", "labelled", "--model", model, "--head", "foreign.head.pt", "--allow-foreign-head"],
                                            directory: dir)
        #expect(allowed.status == 0, "\(allowed.stderr)")
        // Birder's own heads record nothing and keep working
        #expect(try Head.load(Fixtures.path("cli/models/rdnet_t_tiny-test-order.head.pt")).encoder == nil)
    }
}
