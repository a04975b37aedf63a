import Foundation
import Testing
import BirderTestSupport

/// `--report` on cluster, probe eval and predict, through the built binary: the format by
/// extension, refusals before any work, and what each report holds.
@Suite(.serialized) struct ReportCLITests {
    let digits: DigitsFixture
    let pixels: [Float]
    let directory: URL

    init() throws {
        digits = try DigitsFixture.load()
        pixels = try DigitsFixture.digitsPixels()
        directory = try BirderProcess.temporaryDirectory()
    }

    /// The first `count` digits as an embeddings CSV (sample `digitN/i.png` → class `digitN`).
    func digitsCSV(_ name: String, _ indices: [Int]) throws -> String {
        var text = (["sample"] + (0..<digits.d).map(String.init)).joined(separator: ",") + "\n"
        for i in indices {
            text += "digit\(digits.labels[i])/\(i).png," + (0..<digits.d).map { "\(pixels[i * digits.d + $0] / 16)" }.joined(separator: ",") + "\n"
        }
        let path = directory.appendingPathComponent(name).path
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    func text(_ path: String) throws -> String { try String(contentsOfFile: path, encoding: .utf8) }

    /// The JSON of the map's data script.
    func mapData(_ path: String) throws -> [String: Any] {
        let html = try text(path)
        let start = try #require(html.range(of: "<script type=\"application/json\" id=\"map-data\">"))
        let end = try #require(html.range(of: "</script>", range: start.upperBound..<html.endIndex))
        return try #require(try JSONSerialization.jsonObject(with: Data(html[start.upperBound..<end.lowerBound].utf8)) as? [String: Any])
    }

    @Test func clusterDrawsTheDigitsMapAsHTMLAndPNG() throws {
        let count = 300
        let data = try digitsCSV("digits.csv", Array(0..<count))
        let html = directory.appendingPathComponent("map.html").path
        let result = try BirderProcess.run(["cluster", "--data", data, "--report", html])
        #expect(result.status == 0, "\(result.stderr)")
        let ami = try #require(result.stdout.split(separator: " ").dropFirst().first)
        let map = try mapData(html)
        #expect(map["n"] as? Int == count)
        #expect(try text(html).contains("<h1>digits.csv — AMI \(ami)</h1>"))
        let samples = try #require(map["samples"] as? [String])
        #expect(samples == (0..<count).map { "digit\(digits.labels[$0])/\($0).png" })
        let classes = try #require(map["classes"] as? [[Any]]).map { $0[0] as! String }
        #expect(Set(classes) == Set((0..<10).map { "digit\($0)" }))

        // The 2-D coordinates are UMAP's of these digits: a point's nearest neighbour on the map is
        // almost always a digit of its own class (random coordinates would give ~10 %).
        let xs = try #require(map["x"] as? [Double]), ys = try #require(map["y"] as? [Double]), ranks = try #require(map["c"] as? [Int])
        var agree = 0
        for i in 0..<count {
            var best = -1, bestDistance = Double.infinity
            for j in 0..<count where j != i {
                let d = (xs[i] - xs[j]) * (xs[i] - xs[j]) + (ys[i] - ys[j]) * (ys[i] - ys[j])
                if d < bestDistance { bestDistance = d; best = j }
            }
            if ranks[best] == ranks[i] { agree += 1 }
        }
        print("digits map: 1-NN agreement \(agree) / \(count)")
        #expect(agree >= count * 85 / 100)

        // Cairo's PNG through the command (the SVG and PDF are checked by BirderReportsTests).
        let png = directory.appendingPathComponent("map.png").path
        let drawn = try BirderProcess.run(["cluster", "--data", data, "--report", png])
        #expect(drawn.status == 0, "\(drawn.stderr)")
        #expect(drawn.stdout == result.stdout)
        #expect(try Data(contentsOf: URL(fileURLWithPath: png)).prefix(8) == Data([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]))
    }

    @Test func anUnknownReportFormatIsRefusedBeforeAnyWork() throws {
        let data = try digitsCSV("tiny.csv", Array(0..<30))
        let output = directory.appendingPathComponent("clusters.csv").path
        let report = directory.appendingPathComponent("map.jpeg").path
        let refused = try BirderProcess.run(["cluster", "--data", data, "--output", output, "--report", report])
        #expect(refused.status == 2)
        #expect(refused.stderr.contains("\(report): a report's format is named by its extension: .html, .svg, .png or .pdf"), "\(refused.stderr)")
        #expect(refused.stdout.isEmpty)
        #expect(!FileManager.default.fileExists(atPath: output) && !FileManager.default.fileExists(atPath: report))

        let probe = try BirderProcess.run(["probe", "eval", "--data", data, "--head", "missing.head.pt", "--report", directory.path + "/r.svg"])
        #expect(probe.status == 2 && probe.stderr.contains("r.svg: a report's format is named by its extension: .html"), "\(probe.stderr)")
        let predict = try BirderProcess.run(["predict", Fixtures.path("cli/photos/a_chelsea.jpg"), "--model", "no-such-model",
                                             "--report", directory.path + "/sheet.txt"])
        #expect(predict.status == 2 && predict.stderr.contains("sheet.txt: a report's format is named by its extension: .html"), "\(predict.stderr)")
        let missingDirectory = try BirderProcess.run(["cluster", "--data", data, "--report", directory.path + "/none/map.html"])
        #expect(missingDirectory.status == 2 && missingDirectory.stderr.contains("does not exist") && missingDirectory.stdout.isEmpty)
    }

    @Test func probeEvalReportsPerClassMetrics() throws {
        let train = try digitsCSV("train.csv", Array(0..<600))
        let test = try digitsCSV("test.csv", Array(600..<900))
        let head = directory.appendingPathComponent("digits.head.pt").path
        let trained = try BirderProcess.run(["probe", "train", "--train", train, "--epochs", "5", "--output", head])
        #expect(trained.status == 0, "\(trained.stderr)")
        let report = directory.appendingPathComponent("report.html").path
        let evaluated = try BirderProcess.run(["probe", "eval", "--data", test, "--head", head, "--report", report])
        #expect(evaluated.status == 0, "\(evaluated.stderr)")
        let row = try #require(evaluated.stdout.split(separator: "\n").last).split(separator: " ", omittingEmptySubsequences: true)
        let html = try text(report)
        // The report's top-1 and top-5 are the ones printed.
        #expect(html.contains("<tr><td>digits.head.pt</td><td>300</td><td>10</td><td>\(row[2]) %</td><td>\(row[4]) %</td>"), "\(row)")
        let table = try #require(html.components(separatedBy: "id=\"classes-0\"").last?.components(separatedBy: "</table>").first)
        #expect(table.components(separatedBy: "<tr>").count - 1 == 11)
        #expect(html.contains("class=\"heat\""))
        #expect(html.contains("Most-confused classes"))
    }

    @Test func predictWritesAContactSheet() throws {
        let photos = Fixtures.path("cli/photos")
        let model = Fixtures.path("cli/models/rdnet_t_tiny-test.pt")
        let sheet = directory.appendingPathComponent("sheet.html").path
        let output = directory.appendingPathComponent("predictions.csv").path
        let result = try BirderProcess.run(["predict", photos, "--model", model, "--head", "order", "--top-k", "3",
                                            "--output", output, "--report", sheet])
        // The truncated photo fails (status 1) and has no card; the others have one each.
        #expect(result.status == 1, "\(result.stderr)")
        let html = try text(sheet)
        #expect(html.components(separatedBy: "<figure class=\"card\"").count - 1 == 3)
        #expect(html.components(separatedBy: "data:image/jpeg;base64,").count - 1 == 3)
        #expect(html.components(separatedBy: "class=\"bar").count - 1 == 9)
        #expect(!html.contains("d_truncated"))
        // Each card's top class is the prediction of the CSV.
        let rows = try text(output).split(separator: "\n").dropFirst().map { $0.split(separator: ",", omittingEmptySubsequences: false) }
        #expect(rows.count == 3)
        for row in rows { #expect(html.contains("data-class-0=\"\(row[2])\""), "\(row)") }

        let sharded = try BirderProcess.run(["predict", photos, "--model", model, "--head", "order", "--output", output,
                                             "--shard", "1/2", "--report", sheet])
        #expect(sharded.status == 2 && sharded.stderr.contains("--report comes from one whole run"))
    }
}
