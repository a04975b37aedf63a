import BirderTestSupport
import Foundation
import Testing
@testable import Birder

/// The accuracy summary, word for word against Birder's `Results.log_short_report()` on the same
/// numbers (tools/reference/make_results_fixtures.py).
@Suite struct ResultsSummaryTests {
    struct Input: Decodable { let samples: [String]?; let labels: [Int]?; let classes: [String]?; let bits: [UInt32] }

    static func summary(_ key: String) throws -> ResultsSummary {
        let input = try #require(try Fixtures.json([String: Input].self, "results/inputs.json")[key])
        let classes = try #require(input.classes), labels = try #require(input.labels)
        var summary = ResultsSummary(classNames: classes)
        let values = input.bits.map { Float(bitPattern: $0) }
        for (i, label) in labels.enumerated() {
            summary.add(label: label < 0 ? nil : label, probabilities: Array(values[(i * classes.count)..<((i + 1) * classes.count)]))
        }
        return summary
    }

    @Test(arguments: [("photos.csv", "photos.csv"), ("edge", "edge.csv"), ("summary12.csv", "summary12.csv")])
    func linesMatchBirders(input key: String, report: String) throws {
        let expected = try #require(try Fixtures.json([String: [String]].self, "results/summaries.json")[report])
        #expect(try Self.summary(key).lines == expected)
    }

    @Test func jsonHoldsTheFigures() throws {
        let summary = try Self.summary("summary12.csv")
        let object = try #require(try JSONSerialization.jsonObject(with: Data(summary.json.utf8)) as? [String: Any])
        #expect(object["labelled"] as? Int == 38 && object["samples"] as? Int == 40)
        #expect(abs((object["accuracy"] as? Double ?? 0) - 14.0 / 38.0) < 1e-12)
        #expect((object["classes"] as? [[String: Any]])?.count == summary.classRows.count)
        #expect(ResultsSummary(classNames: ["a"]).lines == nil)
    }
}
