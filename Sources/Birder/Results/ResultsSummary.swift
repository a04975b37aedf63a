import BirderIO
import Foundation

/// Birder's short accuracy report of a labelled run (`Results.log_short_report`), accumulated
/// image by image so a run of any length needs memory only per class: accuracy, top-3 accuracy
/// (reported when the head has more than 3 classes, as Birder does), and the classes of lowest
/// and highest precision and recall with their false negatives and positives.
public struct ResultsSummary: Sendable {
    /// Birder's `settings.TOP_K`.
    public static let topK = 3

    public let classNames: [String]
    public private(set) var samples = 0
    public private(set) var labelled = 0
    public private(set) var correct = 0
    public private(set) var inTopK = 0
    /// Per class: images labelled with it, images predicted as it, and both.
    public private(set) var support: [Int]
    public private(set) var predicted: [Int]
    public private(set) var truePositives: [Int]

    public init(classNames: [String]) {
        self.classNames = classNames
        support = Array(repeating: 0, count: classNames.count)
        predicted = support
        truePositives = support
    }

    /// Adds one image: its label (nil: unknown, left out of the metrics as Birder leaves out -1)
    /// and every class probability.
    public mutating func add(label: Int?, probabilities: [Float]) {
        precondition(probabilities.count == classNames.count, "one probability per class")
        samples += 1
        guard let label, classNames.indices.contains(label) else { return }
        labelled += 1
        let prediction = BirderCSV.argmax(probabilities)
        support[label] += 1
        predicted[prediction] += 1
        if prediction == label {
            correct += 1
            truePositives[label] += 1
        }
        if BirderCSV.topIndices(probabilities, Self.topK).contains(label) { inTopK += 1 }
    }

    public var accuracy: Double { labelled == 0 ? .nan : Double(correct) / Double(labelled) }
    public var topKIsReported: Bool { Self.topK < classNames.count }
    public var topKAccuracy: Double { labelled == 0 || !topKIsReported ? .nan : Double(inTopK) / Double(labelled) }

    /// One class's row of Birder's detailed report.
    public struct ClassRow: Sendable, Equatable {
        public let index: Int
        public let name: String
        public let precision: Double
        public let recall: Double
        public let samples: Int
        public let falseNegatives: Int
        public let falsePositives: Int
    }

    /// The classes that have labelled images, in class order (Birder's report skips the others).
    public var classRows: [ClassRow] {
        classNames.indices.filter { support[$0] > 0 }.map { c in
            ClassRow(index: c, name: classNames[c],
                     precision: predicted[c] == 0 ? 0 : Double(truePositives[c]) / Double(predicted[c]),
                     recall: Double(truePositives[c]) / Double(support[c]), samples: support[c],
                     falseNegatives: support[c] - truePositives[c], falsePositives: predicted[c] - truePositives[c])
        }
    }

    /// Birder's report lines, word for word (nil when no image had a label: Birder then reports
    /// "No labeled samples found").
    public var lines: [String]? {
        let rows = classRows
        guard labelled > 0, !rows.isEmpty else { return nil }
        func f4(_ v: Double) -> String { String(format: "%.4f", v) }
        // The first row of the extreme value, as polars' arg_min / arg_max give it.
        func pick(_ key: (ClassRow) -> Double, lowest: Bool) -> ClassRow {
            rows.dropFirst().reduce(rows[0]) { best, row in
                (lowest ? key(row) < key(best) : key(row) > key(best)) ? row : best
            }
        }
        func describe(_ title: String, _ value: Double, _ row: ClassRow) -> String {
            "\(title) \(f4(value)) for '\(row.name)' (\(row.falseNegatives) false negatives, \(row.falsePositives) false positives)"
        }
        var out = ["Accuracy \(f4(accuracy)) on \(labelled) samples (\(labelled - correct) mistakes)"]
        if topKIsReported {
            out.append("Top-\(Self.topK) accuracy \(f4(topKAccuracy)) on \(labelled) samples (\(labelled - inTopK) samples out of top-\(Self.topK))")
        } else {
            out.append("Top-\(Self.topK) accuracy not reported, only \(classNames.count) classes are available")
        }
        let lowP = pick(\.precision, lowest: true), lowR = pick(\.recall, lowest: true)
        let highP = pick(\.precision, lowest: false), highR = pick(\.recall, lowest: false)
        out.append(describe("Lowest precision", lowP.precision, lowP))
        out.append(describe("Lowest recall", lowR.recall, lowR))
        out.append(describe("Highest precision", highP.precision, highP))
        out.append(describe("Highest recall", highR.recall, highR))
        if labelled < samples {
            out.append("\(samples - labelled) of the samples did not have labels, metrics calculated only on \(labelled) out of total \(samples) samples")
        }
        return out
    }

    /// The summary as JSON: the report's figures and every class's row.
    public var json: String {
        func number(_ v: Double) -> String { v.isNaN ? "null" : "\(v)" }
        func string(_ s: String) -> String {
            let data = try! JSONSerialization.data(withJSONObject: [s], options: [.withoutEscapingSlashes])
            return String(String(decoding: data, as: UTF8.self).dropFirst().dropLast())
        }
        let rows = classRows.map { r in
            "    {\"class\": \(r.index), \"name\": \(string(r.name)), \"precision\": \(r.precision), \"recall\": \(r.recall), "
                + "\"samples\": \(r.samples), \"predicted\": \(predicted[r.index]), \"false_negatives\": \(r.falseNegatives), "
                + "\"false_positives\": \(r.falsePositives)}"
        }
        return """
        {
          "samples": \(samples),
          "labelled": \(labelled),
          "accuracy": \(number(accuracy)),
          "top_k": \(Self.topK),
          "top_k_accuracy": \(number(topKAccuracy)),
          "classes": [
        \(rows.joined(separator: ",\n"))
          ]
        }

        """
    }
}
