import Foundation
import Testing
import BirderIO
import BirderTestSupport

/// `birder probe` and `birder cluster` on scikit-learn's digits written as an embeddings CSV in an
/// ImageFolder-like layout (sample `digitN/i.png` → class `digitN`), against the PyTorch protocol's
/// accuracy and umap-learn's AMI (tools/reference/make_eval_fixtures.py).
@Suite(.serialized) struct EvaluationCLITests {
    let digits: DigitsFixture
    let pixels: [Float]
    let directory: URL

    init() throws {
        digits = try DigitsFixture.load()
        pixels = try DigitsFixture.digitsPixels()
        directory = try BirderProcess.temporaryDirectory()
    }

    /// Rows `indices` as Birder's embeddings CSV, features pixel / 16.
    func writeCSV(_ name: String, _ indices: [Int]) throws -> String {
        var text = (["sample"] + (0..<digits.d).map(String.init)).joined(separator: ",") + "\n"
        for i in indices {
            let row = (0..<digits.d).map { "\(pixels[i * digits.d + $0] / 16)" }
            text += "digit\(digits.labels[i])/\(i).png," + row.joined(separator: ",") + "\n"
        }
        let path = directory.appendingPathComponent(name).path
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    @Test func probeTrainsAHeadBirderCanLoadAndEvaluatesIt() throws {
        let train = try writeCSV("train.csv", digits.linear.train_indices)
        let test = try writeCSV("test.csv", digits.linear.test_indices)
        // PyTorch's accuracy is a mean over seeds (one seed alone varies by about a point): so is ours.
        var accuracies: [Double] = []
        for seed in digits.linear.seeds {
            let head = directory.appendingPathComponent("digits-digit-\(seed).head.pt").path
            let trained = try BirderProcess.run([
                "probe", "train", "--train", train, "--val", test, "--epochs", "\(digits.linear.epochs)",
                "--batch-size", "\(digits.linear.batch_size)", "--lr", "\(digits.linear.lr)", "--seed", "\(seed)",
                "--output", head])
            #expect(trained.status == 0, "\(trained.stderr)")
            let loaded = try Head.load(head)
            #expect(loaded.weight.shape == [10, 64])
            #expect(loaded.classNames == (0..<10).map { "digit\($0)" })

            let evaluated = try BirderProcess.run(["probe", "eval", "--data", test, "--head", head])
            #expect(evaluated.status == 0, "\(evaluated.stderr)")
            let row = try #require(evaluated.stdout.split(separator: "\n").last)
            accuracies.append(try #require(Double(row.split(separator: " ", omittingEmptySubsequences: true)[2])))
        }
        let mean = accuracies.reduce(0, +) / Double(accuracies.count)
        print("probe eval top-1 over seeds \(accuracies) mean \(mean) %, PyTorch protocol \(digits.linear.top1_mean * 100) %")
        #expect(abs(mean - digits.linear.top1_mean * 100) <= 1.0)
    }

    @Test func clusterMatchesUMAPLearnsAMI() throws {
        let data = try writeCSV("all.csv", Array(0..<digits.n))
        let output = directory.appendingPathComponent("clusters.csv").path
        let result = try BirderProcess.run(["cluster", "--data", data, "--output", output])
        #expect(result.status == 0, "\(result.stderr)")
        let words = result.stdout.split(separator: " ")
        #expect(words.first == "AMI")
        let ami = try #require(Double(words[1]))
        print("cluster AMI \(ami), umap-learn + scikit-learn mean \(digits.umap.ami_mean)")
        #expect(abs(ami - digits.umap.ami_mean) <= 0.05)
        let lines = try String(contentsOfFile: output, encoding: .utf8).split(separator: "\n")
        #expect(lines.count == digits.n + 1)
        #expect(lines[0] == "sample,label,cluster")
        #expect(Set(lines.dropFirst().map { $0.split(separator: ",")[2] }).count == 10)
    }

    /// The same digits as Parquet (written by the library's writer) cluster exactly as the CSV does.
    @Test func clusterReadsParquetAsItReadsCSV() throws {
        let indices = Array(0..<200)
        let csv = try writeCSV("some.csv", indices)
        let parquet = directory.appendingPathComponent("some.parquet").path
        try ParquetEmbeddingsFile.write(
            samples: indices.map { "digit\(digits.labels[$0])/\($0).png" }, labels: nil,
            embeddings: indices.flatMap { i in (0..<digits.d).map { pixels[i * digits.d + $0] / 16 } },
            dimension: digits.d, to: parquet, rowGroupRows: 64)
        let fromCSV = try BirderProcess.run(["cluster", "--data", csv])
        let fromParquet = try BirderProcess.run(["cluster", "--data", parquet])
        #expect(fromParquet.status == 0, "\(fromParquet.stderr)")
        #expect(fromParquet.stdout == fromCSV.stdout && fromCSV.stdout.hasPrefix("AMI "))
    }

    /// Birder's own Parquet embeddings (its predict writer, pyarrow: snappy, dictionary pages, two
    /// row groups) train a head; their `label` column gives the classes.
    @Test func probeTrainsOnBirdersParquet() throws {
        let head = directory.appendingPathComponent("birder-parquet.head.pt").path
        let trained = try BirderProcess.run(["probe", "train", "--train", Fixtures.path("parquet/birder_embeddings.parquet"),
                                             "--epochs", "2", "--output", head])
        #expect(trained.status == 0, "\(trained.stderr)")
        let loaded = try Head.load(head)
        #expect(loaded.classNames == ["0", "1", "2"])
        #expect(loaded.weight.shape == [3, 8])
        let refused = try BirderProcess.run(["cluster", "--data", Fixtures.path("parquet/birder_output.parquet")])
        #expect(refused.status != 0)
        #expect(refused.stderr.contains("birder_output.parquet") && refused.stderr.contains("`embedding`"))
    }

    @Test func probeRefusesAHeadOfTheWrongWidth() throws {
        let test = try writeCSV("small.csv", Array(0..<20))
        let result = try BirderProcess.run(["probe", "eval", "--data", test, "--head", Fixtures.path("cli/models/rdnet_t_tiny-test-order.head.pt")])
        #expect(result.status == 2)
        #expect(result.stderr.contains("the head takes 24-wide embeddings"))
    }
}
