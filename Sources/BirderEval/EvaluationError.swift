/// Bad input to an evaluation routine (shapes that disagree, impossible parameters, values that
/// are not finite). Thrown instead of trapping so a caller can report which input was wrong.
public enum EvaluationError: Error, CustomStringConvertible, Equatable {
    /// `what` holds `count` values where `expected` were needed (e.g. n × d features).
    case shapeMismatch(what: String, count: Int, expected: Int)
    /// A parameter is outside its domain, e.g. k clusters for fewer than k points.
    case invalidParameter(name: String, reason: String)
    /// `what` contains NaN or ±∞ at flat index `index`.
    case nonFinite(what: String, index: Int)
    /// A class label outside 0..<numClasses.
    case labelOutOfRange(label: Int, numClasses: Int)

    public var description: String {
        switch self {
        case let .shapeMismatch(what, count, expected):
            return "\(what): \(count) values, expected \(expected)"
        case let .invalidParameter(name, reason):
            return "invalid \(name): \(reason)"
        case let .nonFinite(what, index):
            return "\(what): value at index \(index) is not finite"
        case let .labelOutOfRange(label, numClasses):
            return "label \(label) is outside 0..<\(numClasses)"
        }
    }
}

@usableFromInline
func checkMatrix(_ values: [Float], n: Int, d: Int, name: String) throws {
    guard n >= 0, d >= 0 else {
        throw EvaluationError.invalidParameter(name: "\(name) shape", reason: "n = \(n), d = \(d) must not be negative")
    }
    let (expected, overflow) = n.multipliedReportingOverflow(by: d)
    guard !overflow, values.count == expected else {
        throw EvaluationError.shapeMismatch(what: "\(name) (\(n) × \(d))", count: values.count, expected: overflow ? -1 : expected)
    }
    if let bad = values.firstIndex(where: { !$0.isFinite }) {
        throw EvaluationError.nonFinite(what: name, index: bad)
    }
}
