/// Birder's classification results files, byte for byte as Birder 0.8.4 writes them
/// (`birder.results.classification.Results.save` / `SparseResults.save`, and `predict`'s
/// `--save-output` / `--save-logits` CSVs), so `python -m birder.tools results FILE` and Birder's
/// `Results.load` read ours.
///
/// Each writer returns text a line at a time — `header()` once, then `row(...)` per image — so a
/// streaming writer appends rows as batches complete (an append-only file: a resumed run cuts it
/// back to a recorded length and continues). Birder sorts rows by sample before saving; rows here
/// come in the order given (a folder's images come sorted).
package struct BirderResultsCSV {
    package enum Layout: Equatable, Sendable {
        /// `sample,label,label_name,prediction,0,…,N-1`: every class probability.
        case dense
        /// `…,prediction,prob_0,idx_0,…`: the k most probable classes, most probable first
        /// (Birder's `_sparse.csv`; Birder's default k is 10).
        case sparse(k: Int)
    }

    package let classNames: [String]
    package let layout: Layout

    package init(classNames: [String], layout: Layout = .dense) {
        if case .sparse(let k) = layout { precondition(k >= 1 && k <= classNames.count, "1 ≤ k ≤ classes") }
        self.classNames = classNames
        self.layout = layout
    }

    /// Birder's first line (four empty fields, then the class names, written by Python's csv
    /// module) and the column header (written by polars).
    package func header() -> String {
        let names = String(repeating: ",", count: 4) + classNames.map(BirderCSV.pythonField).joined(separator: ",") + "\n"
        var columns = ["sample", "label", "label_name", "prediction"]
        switch layout {
        case .dense: columns += classNames.indices.map(String.init)
        case .sparse(let k): columns += (0..<k).flatMap { ["prob_\($0)", "idx_\($0)"] }
        }
        return names + columns.joined(separator: ",") + "\n"
    }

    /// One image: `label` is its class index (nil: unknown, Birder's -1 and an empty name).
    package func row(sample: String, label: Int?, probabilities: [Float]) -> String {
        precondition(probabilities.count == classNames.count, "one probability per class")
        let labelName = label.map { classNames.indices.contains($0) ? classNames[$0] : "" } ?? ""
        var fields = [BirderCSV.polarsField(sample), String(label ?? -1), BirderCSV.polarsField(labelName),
                      String(BirderCSV.argmax(probabilities))]
        switch layout {
        case .dense:
            fields += probabilities.map(PolarsFloat.format)
        case .sparse(let k):
            for index in BirderCSV.topIndices(probabilities, k) {
                fields += [PolarsFloat.format(probabilities[index]), String(index)]
            }
        }
        return fields.joined(separator: ",") + "\n"
    }
}

/// Birder `predict`'s wide CSVs: `--save-output` (`sample[,label],prediction,<class names>`, the
/// probabilities) and `--save-logits` (`sample[,label],<class names>`, the logits).
package struct BirderScoresCSV {
    package enum Kind: Sendable { case output, logits }

    package let classNames: [String]
    package let kind: Kind
    package let withLabels: Bool

    package init(classNames: [String], kind: Kind, withLabels: Bool) {
        self.classNames = classNames
        self.kind = kind
        self.withLabels = withLabels
    }

    package func header() -> String {
        var columns = ["sample"]
        if withLabels { columns.append("label") }
        if kind == .output { columns.append("prediction") }
        return (columns + classNames.map(BirderCSV.polarsField)).joined(separator: ",") + "\n"
    }

    package func row(sample: String, label: Int? = nil, scores: [Float]) -> String {
        precondition(scores.count == classNames.count, "one score per class")
        var fields = [BirderCSV.polarsField(sample)]
        if withLabels { fields.append(String(label ?? -1)) }
        if kind == .output { fields.append(BirderCSV.polarsField(classNames[BirderCSV.argmax(scores)])) }
        return (fields + scores.map(PolarsFloat.format)).joined(separator: ",") + "\n"
    }
}

package enum BirderCSV {
    /// polars' `write_csv` quoting: a field with a separator, quote or line break, or an empty
    /// one, is quoted (inner quotes doubled).
    static func polarsField(_ text: String) -> String {
        guard text.isEmpty || needsQuotes(text) else { return text }
        return quoted(text)
    }

    /// Python's `csv.writer` (QUOTE_MINIMAL): the same, except that an empty field stays empty.
    static func pythonField(_ text: String) -> String {
        needsQuotes(text) ? quoted(text) : text
    }

    private static func needsQuotes(_ text: String) -> Bool {
        text.unicodeScalars.contains { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" }
    }

    private static func quoted(_ text: String) -> String {
        "\"" + text.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }

    /// numpy's argmax: the first of the largest (NaN counts as largest, as numpy's does).
    package static func argmax(_ values: [Float]) -> Int {
        var best = 0
        for i in values.indices.dropFirst() {
            if values[best].isNaN { break }
            if values[i].isNaN || values[i] > values[best] { best = i }
        }
        return best
    }

    /// The k largest, largest first; ties keep the lower index first.
    package static func topIndices(_ values: [Float], _ k: Int) -> [Int] {
        Array(values.indices.sorted { values[$0] > values[$1] || (values[$0] == values[$1] && $0 < $1) }.prefix(k))
    }
}

/// float32 as polars writes it in a CSV: the shortest digits that read back to the same float,
/// in fixed notation for decimal exponents −6…12 (always with a fraction: `1.0`, `0.000015`) and
/// scientific otherwise (`1.5e-7`, `1e+13`); `NaN`, `inf`, `-inf`.
package enum PolarsFloat {
    package static func format(_ value: Float) -> String {
        if value.isNaN { return "NaN" }
        if value.isInfinite { return value < 0 ? "-inf" : "inf" }
        let sign = value.sign == .minus ? "-" : ""
        if value == 0 { return sign + "0.0" }
        let (digits, exponent) = shortestDigits(value.magnitude)
        if exponent < -6 || exponent >= 13 {
            let mantissa = digits.count == 1 ? digits : digits.prefix(1) + "." + digits.dropFirst()
            return sign + mantissa + "e" + (exponent < 0 ? "-" : "+") + String(abs(exponent))
        }
        if exponent < 0 {
            return sign + "0." + String(repeating: "0", count: -exponent - 1) + digits
        }
        let whole = exponent + 1
        if digits.count <= whole {
            return sign + digits + String(repeating: "0", count: whole - digits.count) + ".0"
        }
        return sign + digits.prefix(whole) + "." + digits.dropFirst(whole)
    }

    /// The shortest round-trip decimal digits of a positive finite float (Swift's `description`
    /// computes them) and the decimal exponent of the first: value = d.ddd × 10^exponent.
    static func shortestDigits(_ value: Float) -> (digits: String, exponent: Int) {
        let text = value.description
        let parts = text.split(separator: "e", maxSplits: 1)
        let mantissa = parts[0]
        let exponent = parts.count > 1 ? Int(parts[1])! : 0
        let point = mantissa.firstIndex(of: ".")
        let integer = point.map { mantissa[..<$0] } ?? mantissa[...]
        let fraction = point.map { mantissa[mantissa.index(after: $0)...] } ?? ""
        var digits = Array(integer + fraction)
        var pointPosition = integer.count
        while digits.first == "0" { digits.removeFirst(); pointPosition -= 1 }
        while digits.last == "0" { digits.removeLast() }
        return (String(digits), pointPosition + exponent - 1)
    }
}
