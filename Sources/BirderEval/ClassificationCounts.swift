/// Per-class counts of a classifier on labelled samples: what a report's per-class table,
/// confusion pairs and confusion heat map are drawn from. Off-diagonal cells are kept sparse (a
/// thousand-class head has a million cells, almost all zero).
public struct ClassificationCounts: Sendable, Equatable {
    public let classCount: Int
    /// Samples labelled with each class.
    public private(set) var support: [Int]
    /// Samples predicted as each class.
    public private(set) var predicted: [Int]
    /// Samples of each class predicted as that class.
    public private(set) var correct: [Int]
    /// Off-diagonal cells: `label * classCount + prediction` → samples.
    public private(set) var confusions: [Int: Int]

    public init(classCount: Int) {
        self.classCount = classCount
        support = [Int](repeating: 0, count: classCount)
        predicted = support
        correct = support
        confusions = [:]
    }

    public mutating func add(label: Int, prediction: Int) {
        support[label] += 1
        predicted[prediction] += 1
        if label == prediction { correct[label] += 1 } else { confusions[label * classCount + prediction, default: 0] += 1 }
    }

    public var total: Int { support.reduce(0, +) }

    /// Correct / predicted; nil when the class was never predicted (scikit-learn's "ill-defined").
    public func precision(_ c: Int) -> Double? { predicted[c] > 0 ? Double(correct[c]) / Double(predicted[c]) : nil }
    /// Correct / support; nil when no sample has the class.
    public func recall(_ c: Int) -> Double? { support[c] > 0 ? Double(correct[c]) / Double(support[c]) : nil }
    /// Harmonic mean of precision and recall; 0 when either is 0 or undefined and the other is defined.
    public func f1(_ c: Int) -> Double? {
        guard support[c] > 0 || predicted[c] > 0 else { return nil }
        let p = precision(c) ?? 0, r = recall(c) ?? 0
        return p + r > 0 ? 2 * p * r / (p + r) : 0
    }

    /// Samples labelled `label` predicted as `prediction`.
    public func count(label: Int, prediction: Int) -> Int {
        label == prediction ? correct[label] : confusions[label * classCount + prediction] ?? 0
    }

    /// Misclassified samples of each class (labelled as it, predicted as another).
    public var errors: [Int] { (0..<classCount).map { support[$0] - correct[$0] } }

    /// The off-diagonal cells, most samples first (ties: label, then prediction, ascending).
    public func confusedPairs(limit: Int) -> [(label: Int, prediction: Int, count: Int)] {
        let cells = confusions.map { (label: $0.key / classCount, prediction: $0.key % classCount, count: $0.value) }
        return Array(cells.sorted { ($1.count, $0.label, $0.prediction) < ($0.count, $1.label, $1.prediction) }.prefix(max(0, limit)))
    }

    /// At most `limit` classes for a confusion heat map: those with the most errors (made or
    /// received), ordered so that classes confused with each other sit together — a greedy chain
    /// from the class with the most errors to the remaining one it shares most confusions with.
    public func heatMapClasses(limit: Int) -> [Int] {
        var involvement = errors
        for (key, count) in confusions { involvement[key % classCount] += count }
        let chosen = (0..<classCount).filter { involvement[$0] > 0 }
            .sorted { (involvement[$1], $0) < (involvement[$0], $1) }.prefix(max(0, limit))
        var remaining = Array(chosen)
        var ordered: [Int] = []
        while !remaining.isEmpty {
            var next = 0
            if let last = ordered.last {
                var best = -1
                for (i, c) in remaining.enumerated() {
                    let shared = count(label: last, prediction: c) + count(label: c, prediction: last)
                    if shared > best { best = shared; next = i }
                }
                if best == 0 { next = 0 }
            }
            ordered.append(remaining.remove(at: next))
        }
        return ordered
    }
}
