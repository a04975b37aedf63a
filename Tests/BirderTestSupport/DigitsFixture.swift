import Foundation

/// Tests/Fixtures/eval/digits.json (tools/reference/make_eval_fixtures.py): scikit-learn's digits
/// with the reference results the evaluation and CLI tests compare against.
public struct DigitsFixture: Decodable, Sendable {
    public struct AMICase: Decodable, Sendable {
        public var name: String
        public var labels_true: [Int]
        public var labels_pred: [Int]
        public var ami: Double
    }
    public struct UMAPReference: Decodable, Sendable {
        public var a: Double
        public var b: Double
        public var n_epochs: Int
        public var connected_components: Int
        public var knn_dists: [Float]
        public var knn_indices: [Int]
        public var sigmas: [Float]
        public var rhos: [Float]
        public var graph_row_sums: [Double]
        public var graph_nnz: Int
        public var laplacian_smallest_eigenvalues: [Double]
        public var ami_seeds: [Int]
        public var ami_values: [Double]
        public var ami_mean: Double
        public var ward_on_seed0_embedding_ami: Double
    }
    public struct Linear: Decodable, Sendable {
        public struct Metrics: Decodable, Sendable {
            public var weight: [Float]
            public var bias: [Float]
            public var top1: Double
            public var top5: Double
            public var macro: Double
        }
        public var train_indices: [Int]
        public var test_indices: [Int]
        public var epochs: Int
        public var batch_size: Int
        public var lr: Double
        public var seeds: [Int]
        public var top1_values: [Double]
        public var top1_mean: Double
        public var metrics_seed0: Metrics
    }
    public var n: Int
    public var d: Int
    public var labels: [Int]
    public var ward_digits: [String: [Int]]
    public var ward_umap_seed0: [String: [Int]]
    public var ward_blobs: [String: [Int]]
    public var blobs_shape: [Int]
    public var ami_cases: [AMICase]
    public var umap: UMAPReference
    public var linear: Linear

    nonisolated(unsafe) private static var cached: DigitsFixture?
    private static let lock = NSLock()

    /// Decoded once per test process (the file is about 1 MB).
    public static func load() throws -> DigitsFixture {
        lock.lock()
        defer { lock.unlock() }
        if let cached { return cached }
        let fixture = try Fixtures.json(DigitsFixture.self, "eval/digits.json")
        cached = fixture
        return fixture
    }

    public static func digitsPixels() throws -> [Float] { try Fixtures.float32Array("eval/digits_x.f32") }
}
