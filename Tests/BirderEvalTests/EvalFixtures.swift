import BirderTestSupport
import Foundation

/// Tests/Fixtures/eval/digits.json (tools/reference/make_eval_fixtures.py).
struct DigitsFixture: Decodable {
    struct AMICase: Decodable {
        var name: String
        var labels_true: [Int]
        var labels_pred: [Int]
        var ami: Double
    }
    struct UMAPReference: Decodable {
        var a: Double
        var b: Double
        var n_epochs: Int
        var connected_components: Int
        var knn_dists: [Float]
        var knn_indices: [Int]
        var sigmas: [Float]
        var rhos: [Float]
        var graph_row_sums: [Double]
        var graph_nnz: Int
        var laplacian_smallest_eigenvalues: [Double]
        var ami_seeds: [Int]
        var ami_values: [Double]
        var ami_mean: Double
        var ward_on_seed0_embedding_ami: Double
    }
    struct Linear: Decodable {
        struct Metrics: Decodable {
            var weight: [Float]
            var bias: [Float]
            var top1: Double
            var top5: Double
            var macro: Double
        }
        var train_indices: [Int]
        var test_indices: [Int]
        var epochs: Int
        var batch_size: Int
        var lr: Double
        var seeds: [Int]
        var top1_values: [Double]
        var top1_mean: Double
        var metrics_seed0: Metrics
    }
    var n: Int
    var d: Int
    var labels: [Int]
    var ward_digits: [String: [Int]]
    var ward_umap_seed0: [String: [Int]]
    var ward_blobs: [String: [Int]]
    var blobs_shape: [Int]
    var ami_cases: [AMICase]
    var umap: UMAPReference
    var linear: Linear

    nonisolated(unsafe) private static var cached: DigitsFixture?
    private static let lock = NSLock()

    /// Decoded once per test process (the file is about 1 MB).
    static func load() throws -> DigitsFixture {
        lock.lock()
        defer { lock.unlock() }
        if let cached { return cached }
        let fixture = try Fixtures.json(DigitsFixture.self, "eval/digits.json")
        cached = fixture
        return fixture
    }

    static func digitsPixels() throws -> [Float] { try Fixtures.float32Array("eval/digits_x.f32") }
}

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
