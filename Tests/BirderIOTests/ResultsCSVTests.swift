import Foundation
import Testing
import BirderTestSupport
@testable import BirderIO

/// The results writers against files Birder 0.8.4 itself wrote from the same numbers
/// (tools/reference/make_results_fixtures.py): byte for byte.
@Suite struct ResultsCSVTests {
    struct Inputs {
        let samples: [String]
        let labels: [Int?]
        let classes: [String]
        let probabilities: [[Float]]
        let logits: [[Float]]
    }

    static func text(_ name: String) throws -> String {
        try String(contentsOfFile: Fixtures.path("results/\(name)"), encoding: .utf8)
    }

    static func inputs(_ key: String) throws -> Inputs {
        let json = try JSONValue.parse(try text("inputs.json"))
        let entry = try #require(json[key])
        let classes = try #require(entry["classes"]?.arrayValue).compactMap(\.stringValue)
        func rows(_ field: String) -> [[Float]] {
            let flat = (entry[field]?.arrayValue ?? []).compactMap(\.intValue).map { Float(bitPattern: UInt32($0)) }
            return stride(from: 0, to: flat.count, by: classes.count).map { Array(flat[$0..<($0 + classes.count)]) }
        }
        return Inputs(samples: try #require(entry["samples"]?.arrayValue).compactMap(\.stringValue),
                      labels: try #require(entry["labels"]?.arrayValue).map { $0.intValue.flatMap { $0 < 0 ? nil : $0 } },
                      classes: classes, probabilities: rows("bits"), logits: rows("logit_bits"))
    }

    static func results(_ inputs: Inputs, _ layout: BirderResultsCSV.Layout) -> String {
        let writer = BirderResultsCSV(classNames: inputs.classes, layout: layout)
        return writer.header() + inputs.samples.indices.map {
            writer.row(sample: inputs.samples[$0], label: inputs.labels[$0], probabilities: inputs.probabilities[$0])
        }.joined()
    }

    @Test func denseResultsOfThePhotosMatchBirders() throws {
        #expect(Self.results(try Self.inputs("photos.csv"), .dense) == (try Self.text("photos.csv")))
    }

    @Test func denseResultsWithQuotedNamesAndTinyProbabilitiesMatchBirders() throws {
        #expect(Self.results(try Self.inputs("edge"), .dense) == (try Self.text("edge.csv")))
    }

    @Test func sparseResultsMatchBirders() throws {
        #expect(Self.results(try Self.inputs("edge"), .sparse(k: 10)) == (try Self.text("edge_sparse.csv")))
    }

    @Test func outputAndLogitsCSVsMatchBirders() throws {
        let inputs = try Self.inputs("edge")
        let output = BirderScoresCSV(classNames: inputs.classes, kind: .output, withLabels: true)
        let outputText = output.header() + inputs.samples.indices.map {
            output.row(sample: inputs.samples[$0], label: inputs.labels[$0], scores: inputs.probabilities[$0])
        }.joined()
        #expect(outputText == (try Self.text("edge_output.csv")))
        let logits = BirderScoresCSV(classNames: inputs.classes, kind: .logits, withLabels: false)
        let logitsText = logits.header() + inputs.samples.indices.map {
            logits.row(sample: inputs.samples[$0], scores: inputs.logits[$0])
        }.joined()
        #expect(logitsText == (try Self.text("edge_logits.csv")))
    }

    /// polars' float text over the whole float32 range: both notations, their boundaries,
    /// subnormals, signed zero, NaN and the infinities.
    @Test func floatsAreWrittenAsPolarsWritesThem() throws {
        let json = try JSONValue.parse(try Self.text("inputs.json"))
        let values = try #require(json["floats"]?["bits"]?.arrayValue).compactMap(\.intValue).map { Float(bitPattern: UInt32($0)) }
        let lines = try Self.text("edge_floats.csv").split(separator: "\n").dropFirst().map(String.init)
        #expect(lines.count == values.count && values.count > 400)
        for (value, line) in zip(values, lines) {
            #expect(PolarsFloat.format(value) == line, "\(value.bitPattern)")
        }
    }
}
