import BirderTestSupport
import Foundation

/// Tests/Fixtures/eval/linear_trace.json: one PyTorch run of Birder's probe loop.
struct LinearTrace: Decodable {
    var seed: Int
    var epochs: Int
    var batch_size: Int
    var lr: Double
    var initial_weight: [Float]
    var initial_bias: [Float]
    var orders: [[Int]]
    var epoch_losses: [Double]
    var final_weight: [Float]
    var final_bias: [Float]
}

/// True when two labelings describe the same partition (equal up to renaming the labels).
func samePartition(_ a: [Int], _ b: [Int]) -> Bool {
    guard a.count == b.count else { return false }
    var forward = [Int: Int](), backward = [Int: Int]()
    for (x, y) in zip(a, b) {
        if let mapped = forward[x], mapped != y { return false }
        if let mapped = backward[y], mapped != x { return false }
        forward[x] = y
        backward[y] = x
    }
    return true
}

/// How many points two partitions disagree on, after matching each label of `a` to the
/// label of `b` it overlaps most (a diagnostic for failures).
func partitionDisagreement(_ a: [Int], _ b: [Int]) -> Int {
    var overlap = [Int: [Int: Int]]()
    for (x, y) in zip(a, b) { overlap[x, default: [:]][y, default: 0] += 1 }
    var agree = 0
    for (_, row) in overlap { agree += row.values.max() ?? 0 }
    return a.count - agree
}
