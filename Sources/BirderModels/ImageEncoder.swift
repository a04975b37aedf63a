import BirderCore

/// A loaded network: immutable after construction and shared by threads; every call allocates its
/// own scratch memory and runs on the context it is given. Inputs are NHWC batches (N×H×W×3,
/// normalised as the checkpoint's rgb stats say); H and W must be multiples of `inputMultiple`.
package protocol ImageEncoder: Sendable {
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
    /// The kernel set whose layout the weights were packed for: a context runs them when its
    /// kernels share that layout.
    var packedFor: KernelTable { get }

    /// N×embeddingSize: the pooled, normalised features Birder's `embedding()` returns.
    func embedding(_ batch: Tensor, context: ComputeContext) throws -> Tensor
    /// Stage name → N×C×H×W (NCHW, as Birder returns them), in `stageNames` order.
    func detectionFeatures(_ batch: Tensor, context: ComputeContext) throws -> [(name: String, features: Tensor)]
    /// This network for inputs of another size, as Birder's `adjust_size(new_size)` leaves it
    /// (weights shared). Convolutional networks take any multiple of `inputMultiple` as they are;
    /// a ViT resizes its position embedding once.
    func adjustedForInput(height: Int, width: Int) throws -> any ImageEncoder
}

package enum ModelInputError: Error, CustomStringConvertible, Equatable {
    case badShape(network: String, shape: [Int], reason: String)

    package var description: String {
        switch self {
        case let .badShape(network, shape, reason):
            return "\(network): input of shape \(shape) refused: \(reason)"
        }
    }
}

extension ImageEncoder {
    package func adjustedForInput(height: Int, width: Int) throws -> any ImageEncoder {
        try checkInputSize(height: height, width: width)
        return self
    }

    /// Refuses an input size the network cannot take (not a positive multiple of `inputMultiple`).
    package func checkInputSize(height: Int, width: Int) throws {
        guard height > 0, width > 0, height % inputMultiple == 0, width % inputMultiple == 0 else {
            throw ModelInputError.badShape(network: network, shape: [height, width],
                                           reason: "height and width must be positive multiples of \(inputMultiple)")
        }
    }

    /// Whether `context`'s kernels read weights laid out as this encoder's were packed.
    package func checkKernels(_ context: ComputeContext) throws(ComputeError) {
        let own = packedFor, theirs = context.kernels
        guard own.panelWidth == theirs.panelWidth, own.vectorFloats == theirs.vectorFloats,
              own.precision == .fp32 || own.kernels.bf16_k_group == theirs.kernels.bf16_k_group else {
            throw .incompatibleKernels(packedFor: own.name, context: theirs.name)
        }
    }

    /// Checks an NHWC batch against the network's constraints, and the context's kernels
    /// against the weights' layout.
    package func validateInput(_ batch: Tensor, context: ComputeContext) throws {
        try checkKernels(context)
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
package struct LinearClassifier: Sendable {
    /// C×D, PyTorch's layout.
    package let weight: Tensor
    /// C
    package let bias: Tensor
    /// Class names by index (empty when unknown).
    package let classNames: [String]

    package var numClasses: Int { weight.shape[0] }
    package var inputSize: Int { weight.shape[1] }

    package init(weight: Tensor, bias: Tensor, classNames: [String] = []) throws {
        guard weight.rank == 2, bias.shape == [weight.shape[0]] else {
            throw WeightBindingError.shapeMismatch(name: "classifier", expected: [weight.shape.first ?? 0], found: bias.shape)
        }
        // Softmax and top-k divide by and index into the classes: none is an error, not a trap.
        guard weight.shape[0] > 0 else {
            throw WeightBindingError.invalidConfig("a classifier needs at least one class, this one has none")
        }
        guard classNames.isEmpty || classNames.count == weight.shape[0] else {
            throw WeightBindingError.invalidConfig("\(classNames.count) class names for \(weight.shape[0]) classifier rows")
        }
        self.weight = weight
        self.bias = bias
        self.classNames = classNames
    }

    /// Binds `weight` (and `bias` when `hasBias`) of `binder`'s scope as a classifier over
    /// `inputs`-wide embeddings. A checkpoint's stored classifier decides the class count
    /// (`numClasses`, when given, must agree); a source without one gets none, unless
    /// `numClasses` > 0 asks a seeded source for one.
    package static func bind(_ binder: ParameterBinder, network: String, inputs: Int, numClasses: Int?,
                             hasBias: Bool, classNames: [String] = []) throws -> LinearClassifier? {
        let classes: Int
        if let stored = binder.shape(of: "weight") {
            guard stored.count == 2, stored[1] == inputs else {
                throw WeightBindingError.shapeMismatch(name: "classifier.weight", expected: [numClasses ?? -1, inputs], found: stored)
            }
            // Said on its own: as a shape mismatch it read "shape [0, 24], the network needs [0, 24]".
            guard stored[0] > 0 else {
                throw WeightBindingError.invalidConfig("\(network): classifier.weight \(stored) has no classes; a classifier needs at least one")
            }
            if let numClasses, numClasses != stored[0] {
                throw WeightBindingError.invalidConfig("\(network): asked for \(numClasses) classes, the checkpoint's classifier has \(stored[0])")
            }
            classes = stored[0]
        } else {
            guard let numClasses, numClasses > 0 else {
                guard classNames.isEmpty else {
                    throw WeightBindingError.invalidConfig("\(classNames.count) class names for a network without classifier")
                }
                return nil
            }
            classes = numClasses
        }
        let weight = try binder.tensor("weight", shape: [classes, inputs])
        let bias = hasBias ? try binder.tensor("bias", shape: [classes]) : Tensor(zeros: [classes])
        return try LinearClassifier(weight: weight, bias: bias, classNames: classNames)
    }

    /// N×C logits for N×D embeddings.
    package func logits(_ embeddings: Tensor, context: ComputeContext) throws -> Tensor {
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
                    context.gemm(.none, .transposed, m: n, n: c, k: d, a: x.baseAddress!, lda: d,
                         b: w.baseAddress!, ldb: d, beta: 1, c: ob, ldc: c)
                }
            }
        }
        return out
    }

    /// N×C softmax probabilities.
    package func probabilities(_ embeddings: Tensor, context: ComputeContext) throws -> Tensor {
        var out = try logits(embeddings, context: context)
        let c = numClasses
        out.withUnsafeMutableBufferPointer { o in
            // The softmax kernel turns a row of NaN logits into uniform probabilities, a plausible
            // answer; such a row stays NaN (as in PyTorch) so that callers can see it is not one.
            let poisoned = (0..<(o.count / c)).filter { row in o[(row * c)..<((row + 1) * c)].contains { !$0.isFinite } }
            context.kernels.scaledSoftmaxRows(o.baseAddress!, rows: o.count / c, columns: c, scale: 1)
            for row in poisoned { o[(row * c)..<((row + 1) * c)].update(repeating: .nan) }
        }
        return out
    }
}
