public import BirderCore

/// A loaded network: immutable after construction and shared by threads; every call allocates its
/// own scratch memory. Inputs are NHWC batches (N×H×W×3, normalised as the checkpoint's rgb stats
/// say); H and W must be multiples of `inputMultiple`.
public protocol ImageEncoder: Sendable {
    /// Birder's network name, e.g. `rdnet_t`, `vit_b16_pn`.
    var network: String { get }
    /// Width of `embedding`'s rows.
    var embeddingSize: Int { get }
    /// Input sides must be multiples of this (RDNet 32, ViT its patch size).
    var inputMultiple: Int { get }
    /// Names of the detection feature stages in order (e.g. stage1…stage4).
    var stageNames: [String] { get }
    /// The classifier stored with the checkpoint, if it has one.
    var classifier: LinearClassifier? { get }

    /// N×embeddingSize: the pooled, normalised features Birder's `embedding()` returns.
    func embedding(_ batch: Tensor) throws -> Tensor
    /// Stage name → N×C×H×W (NCHW, as Birder returns them), in `stageNames` order.
    func detectionFeatures(_ batch: Tensor) throws -> [(name: String, features: Tensor)]
}

public enum ModelInputError: Error, CustomStringConvertible, Equatable {
    case badShape(network: String, shape: [Int], reason: String)

    public var description: String {
        switch self {
        case let .badShape(network, shape, reason):
            return "\(network): input of shape \(shape) refused: \(reason)"
        }
    }
}

extension ImageEncoder {
    /// Checks an NHWC batch against the network's constraints.
    public func validateInput(_ batch: Tensor) throws {
        let shape = batch.shape
        guard shape.count == 4, shape[3] == 3 else {
            throw ModelInputError.badShape(network: network, shape: shape, reason: "expected N×H×W×3 (NHWC, RGB)")
        }
        guard shape[0] > 0, shape[1] > 0, shape[2] > 0,
              shape[1] % inputMultiple == 0, shape[2] % inputMultiple == 0 else {
            throw ModelInputError.badShape(network: network, shape: shape,
                                           reason: "height and width must be positive multiples of \(inputMultiple)")
        }
    }
}

/// A linear layer over embeddings: the checkpoint's classifier or a `*.head.pt` linear probe.
public struct LinearClassifier: Sendable {
    /// C×D, PyTorch's layout.
    public let weight: Tensor
    /// C
    public let bias: Tensor
    /// Class names by index (empty when unknown).
    public let classNames: [String]

    public var numClasses: Int { weight.shape[0] }
    public var inputSize: Int { weight.shape[1] }

    public init(weight: Tensor, bias: Tensor, classNames: [String] = []) throws {
        guard weight.rank == 2, bias.shape == [weight.shape[0]] else {
            throw WeightBindingError.shapeMismatch(name: "classifier", expected: [weight.shape.first ?? 0], found: bias.shape)
        }
        guard classNames.isEmpty || classNames.count == weight.shape[0] else {
            throw WeightBindingError.invalidConfig("\(classNames.count) class names for \(weight.shape[0]) classifier rows")
        }
        self.weight = weight
        self.bias = bias
        self.classNames = classNames
    }

    /// N×C logits for N×D embeddings.
    public func logits(_ embeddings: Tensor) throws -> Tensor {
        guard embeddings.rank == 2, embeddings.shape[1] == inputSize else {
            throw ModelInputError.badShape(network: "classifier", shape: embeddings.shape,
                                           reason: "expected N×\(inputSize) embeddings")
        }
        let n = embeddings.shape[0], c = numClasses, d = inputSize
        var out = Tensor(zeros: [n, c])
        out.withUnsafeMutableBufferPointer { o in
            let ob = o.baseAddress!
            bias.withUnsafeBufferPointer { b in
                for row in 0..<n { (ob + row * c).update(from: b.baseAddress!, count: c) }
            }
            embeddings.withUnsafeBufferPointer { x in
                weight.withUnsafeBufferPointer { w in
                    gemm(.none, .transposed, m: n, n: c, k: d, a: x.baseAddress!, lda: d,
                         b: w.baseAddress!, ldb: d, beta: 1, c: ob, ldc: c)
                }
            }
        }
        return out
    }

    /// N×C softmax probabilities.
    public func probabilities(_ embeddings: Tensor) throws -> Tensor {
        var out = try logits(embeddings)
        let c = numClasses
        out.withUnsafeMutableBufferPointer { o in
            scaledSoftmaxRows(o.baseAddress!, rows: o.count / c, columns: c, scale: 1)
        }
        return out
    }
}
