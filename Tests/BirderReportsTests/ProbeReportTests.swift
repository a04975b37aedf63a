@testable import BirderEval
import Foundation
import Testing
import BirderTestSupport
@testable import BirderReports

@Suite struct ProbeReportTests {
    /// labels [0,0,1,1,2] predicted [0,1,1,1,0]: worked by hand (scikit-learn's
    /// precision_recall_fscore_support gives the same, with zero_division=0 for class 2's precision).
    func smallCounts() -> ClassificationCounts {
        var counts = ClassificationCounts(classCount: 3)
        for (label, prediction) in zip([0, 0, 1, 1, 2], [0, 1, 1, 1, 0]) { counts.add(label: label, prediction: prediction) }
        return counts
    }

    @Test func perClassMetricsByHand() throws {
        let counts = smallCounts()
        #expect(counts.support == [2, 2, 1] && counts.predicted == [2, 3, 0] && counts.correct == [1, 2, 0])
        #expect(counts.precision(0) == 0.5 && counts.recall(0) == 0.5 && counts.f1(0) == 0.5)
        #expect(abs(try #require(counts.precision(1)) - 2.0 / 3) < 1e-12 && counts.recall(1) == 1)
        #expect(abs(try #require(counts.f1(1)) - 0.8) < 1e-12)
        #expect(counts.precision(2) == nil && counts.recall(2) == 0 && counts.f1(2) == 0)
        #expect(counts.errors == [1, 0, 1])
        #expect(counts.confusedPairs(limit: 10).map { [$0.label, $0.prediction, $0.count] } == [[0, 1, 1], [2, 0, 1]])
        #expect(counts.count(label: 1, prediction: 1) == 2 && counts.count(label: 2, prediction: 1) == 0)
        // Macro F1 over present classes: (0.5 + 0.8 + 0) / 3.
        #expect(abs(try #require(ProbeReport.macroF1(counts)) - 1.3 / 3) < 1e-12)
    }

    @Test func detailedEvaluationAgreesWithTheMetrics() throws {
        var random = TestRandom(seed: 7)
        let c = 6, d = 8, n = 300
        let weight = random.floats(c * d), bias = random.floats(c, scale: 0.1), features = random.floats(n * d)
        let labels = (0..<n).map { _ in Int(random.next() % UInt64(c)) }
        let metrics = try LinearProbe.evaluate(weight: weight, bias: bias, features: features, labels: labels)
        let (detailed, counts) = try LinearProbe.evaluateInDetail(weight: weight, bias: bias, features: features, labels: labels)
        #expect(detailed == metrics)
        #expect(counts.total == n)
        #expect(abs(Double(counts.correct.reduce(0, +)) / Double(n) - metrics.top1) < 1e-12)
        // The argmax of each row, computed here independently.
        var expected = ClassificationCounts(classCount: c)
        for i in 0..<n {
            let scores = (0..<c).map { j in (0..<d).reduce(bias[j]) { $0 + weight[j * d + $1] * features[i * d + $1] } }
            expected.add(label: labels[i], prediction: scores.indices.max { scores[$0] < scores[$1] }!)
        }
        #expect(counts == expected)
    }

    @Test func heatMapKeepsTheClassesWithTheMostErrorsTogether() {
        var counts = ClassificationCounts(classCount: 100)
        for c in 0..<100 { for _ in 0..<10 { counts.add(label: c, prediction: c) } }
        // Two confused groups: 10↔11, 50↔51↔52; class 90 has one error.
        for _ in 0..<5 { counts.add(label: 10, prediction: 11); counts.add(label: 11, prediction: 10) }
        for _ in 0..<4 { counts.add(label: 50, prediction: 51); counts.add(label: 51, prediction: 52); counts.add(label: 52, prediction: 50) }
        counts.add(label: 90, prediction: 3)
        let shown = counts.heatMapClasses(limit: 6)
        #expect(shown.count == 6)
        #expect(Set(shown) == [10, 11, 50, 51, 52, 90] || Set(shown) == [10, 11, 50, 51, 52, 3])
        // Confused classes are adjacent.
        let position = Dictionary(uniqueKeysWithValues: shown.enumerated().map { ($1, $0) })
        #expect(abs(position[10]! - position[11]!) == 1)
        #expect(Set([position[50]!, position[51]!, position[52]!]).max()! - Set([position[50]!, position[51]!, position[52]!]).min()! == 2)
        #expect(ClassificationCounts(classCount: 3).heatMapClasses(limit: 30).isEmpty)
    }

    @Test func htmlHasEveryClassRowAndEscapesNames() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let names = ["</script><script>alert(1)</script>", "\"a\" & <b>", "plain"]
        let head = try ProbeReport.Head(name: "order<1>.head.pt", classNames: names,
                                        metrics: LinearProbeMetrics(top1: 0.6, top5: 1, macro: 0.5, count: 5), counts: smallCounts())
        let path = directory.appendingPathComponent("report.html").path
        try ProbeReport(title: "probe", details: ["x"], heads: [head]).write(to: path)
        let html = try readText(path)
        #expect(occurrences(of: "</script>", in: html) == 2)
        #expect(!html.contains("<script>alert") && !html.contains("<b>"))
        #expect(html.contains("&lt;/script&gt;&lt;script&gt;alert(1)&lt;/script&gt;"))
        #expect(html.contains("data-head=\"order&lt;1&gt;.head.pt\""))
        let table = try #require(html.components(separatedBy: "id=\"classes-0\"").last?.components(separatedBy: "</table>").first)
        #expect(occurrences(of: "<tr>", in: table) == 4)  // the heading and three classes
        #expect(html.contains("<td>60.00 %</td><td>100.00 %</td><td>50.00 %</td><td>43.33 %</td>"))
        // Two confused pairs, and the heat map of the three classes.
        #expect(occurrences(of: "<tr>", in: try #require(html.components(separatedBy: "class=\"pairs\"").last?.components(separatedBy: "</table>").first)) == 3)
        #expect(occurrences(of: "class=\"column\"", in: html) == 3)
        #expect(throws: ReportError.self) { try ProbeReport(title: "", details: [], heads: [head]).write(to: directory.path + "/r.svg") }
        #expect(throws: ReportError.self) {
            try ProbeReport.Head(name: "h", classNames: ["one"], metrics: LinearProbeMetrics(top1: 0, top5: 0, macro: 0, count: 0), counts: smallCounts())
        }
    }
}
