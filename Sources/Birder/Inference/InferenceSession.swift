import BirderCore
import BirderModels
import BirderVision
import Foundation

/// Runs a model over images: decoding and resizing on a background thread, overlapped with the
/// network on the session's compute context, in batches. Results stream back in input order, one
/// per input; an input that fails (unreadable file, corrupt bytes) comes back as an error value
/// and never stops the others.
///
/// A session owns its compute context (threads and kernel set): two sessions in one process use
/// their own budgets. Each call allocates its own scratch memory; a session can serve several
/// calls at once.
public final class InferenceSession: Sendable {
    public let model: BirderModel
    public let context: ComputeContext
    /// Images per forward pass. An image's outputs do not depend on the batch it is in.
    public let batchSize: Int
    public let decodeOptions: ImageDecodeOptions

    /// The largest batch size a session takes.
    public static let maximumBatchSize = 1024
    /// The largest input batch (batch × H × W × 3 floats, 4 GiB) a session allocates.
    public static let maximumBatchFloats = 1 << 30

    /// - context: threads and kernels (default: every core, the kernels the model is packed for).
    public init(model: BirderModel, context: ComputeContext? = nil, batchSize: Int = 8,
                decodeOptions: ImageDecodeOptions = ImageDecodeOptions()) throws {
        guard (1...InferenceSession.maximumBatchSize).contains(batchSize) else { throw SessionError.invalidBatchSize(batchSize) }
        // The input batch is one buffer of batch × H × W × 3 floats; sizes come from options and
        // the checkpoint, so the product is checked, not trusted to fit.
        let pixels = model.inputSize.height.multipliedReportingOverflow(by: model.inputSize.width)
        let floats = pixels.partialValue.multipliedReportingOverflow(by: 3 * batchSize)
        guard !pixels.overflow, !floats.overflow, floats.partialValue <= InferenceSession.maximumBatchFloats else {
            throw SessionError.batchTooLarge(batchSize: batchSize, inputSize: model.inputSize)
        }
        let context = try context ?? ComputeContext(instructionSet: model.instructionSet)
        try model.loaded.encoder.checkKernels(context)
        self.model = model
        self.context = context
        self.batchSize = batchSize
        self.decodeOptions = decodeOptions
    }

    // MARK: Streams

    /// The top `topK` classes of every attached head (or of the checkpoint's classifier) for each
    /// input. `topK` above a head's class count gives all its classes.
    /// - includeLogits: also give every class's logit (`HeadPrediction.logits`, Birder's
    ///   `--save-logits`); with test-time augmentation, the mean of the views' logits.
    /// - testTimeAugmentation: Birder's `--tta`: the probabilities are the mean over five crops
    ///   of each input, each resized back to the input size (five forward passes per image).
    public func classify(_ inputs: [ImageInput], topK: Int = 5, includeLogits: Bool = false,
                         testTimeAugmentation: Bool = false) throws -> InferenceStream<Classification> {
        let heads = model.classifyingHeads
        guard !heads.isEmpty else { throw SessionError.noClassifier(model.checkpoint.path) }
        guard topK >= 1 else { throw SessionError.invalidTopK(topK) }
        let context = context, encoder = model.loaded.encoder
        return stream(inputs) { batch in
            let views = testTimeAugmentation ? TestTimeAugmentation.views(of: batch) : [batch]
            var probabilities: [Tensor] = [], logits: [Tensor] = []
            var badEmbedding = [Int?](repeating: nil, count: batch.shape[0])
            for view in views {
                let embeddings = try encoder.embedding(view, context: context)
                for row in badEmbedding.indices where badEmbedding[row] == nil {
                    badEmbedding[row] = Self.firstNonFinite(embeddings, row: row)
                }
                let viewProbabilities = try heads.map { try $0.classifier.probabilities(embeddings, context: context) }
                let viewLogits = includeLogits ? try heads.map { try $0.classifier.logits(embeddings, context: context) } : []
                probabilities = probabilities.isEmpty ? viewProbabilities : zip(probabilities, viewProbabilities).map(Self.adding)
                logits = logits.isEmpty ? viewLogits : zip(logits, viewLogits).map(Self.adding)
            }
            if views.count > 1 {
                // torch.stack(outs).mean(dim=0)
                probabilities = probabilities.map { Self.scaled($0, by: Float(views.count)) }
                logits = logits.map { Self.scaled($0, by: Float(views.count)) }
            }
            let perHead = zip(heads, probabilities).map { Self.top(topK, of: $1, head: $0) }
            return (0..<batch.shape[0]).map { row -> Result<Classification, OutputFailure> in
                // NaN or ±∞ weights give NaN logits, which softmax turns into a plausible-looking
                // uniform distribution: such an image is a failure, never an answer.
                if let bad = badEmbedding[row] {
                    return .failure(.nonFiniteOutput(what: "embedding", index: bad))
                }
                for (head, p) in zip(heads, probabilities) {
                    if let bad = Self.firstNonFinite(p, row: row) {
                        return .failure(.nonFiniteOutput(what: "probabilities of head '\(head.name)'", index: bad))
                    }
                }
                return .success(Classification(heads: heads.indices.map { h in
                    HeadPrediction(head: heads[h].name, top: perHead[h][row],
                                   logits: includeLogits ? Self.row(row, of: logits[h]) : nil)
                }))
            }
        }
    }

    private static func adding(_ a: Tensor, _ b: Tensor) -> Tensor {
        var sum = a
        sum.withUnsafeMutableBufferPointer { s in b.withUnsafeBufferPointer { for i in s.indices { s[i] += $0[i] } } }
        return sum
    }

    private static func scaled(_ a: Tensor, by divisor: Float) -> Tensor {
        var out = a
        out.withUnsafeMutableBufferPointer { for i in $0.indices { $0[i] /= divisor } }
        return out
    }

    private static func row(_ row: Int, of matrix: Tensor) -> [Float] {
        let columns = matrix.shape[1]
        return matrix.withUnsafeBufferPointer { Array($0[(row * columns)..<((row + 1) * columns)]) }
    }

    /// The embedding (Birder's `embedding()`, `model.embeddingSize` values) of each input.
    public func embed(_ inputs: [ImageInput]) -> InferenceStream<[Float]> {
        let context = context, encoder = model.loaded.encoder
        return stream(inputs) { batch in
            let embeddings = try encoder.embedding(batch, context: context)
            let width = encoder.embeddingSize
            return embeddings.withUnsafeBufferPointer { rows in
                (0..<batch.shape[0]).map { row -> Result<[Float], OutputFailure> in
                    let values = rows[(row * width)..<((row + 1) * width)]
                    if let bad = values.firstIndex(where: { !$0.isFinite }) {
                        return .failure(.nonFiniteOutput(what: "embedding", index: bad - row * width))
                    }
                    return .success(Array(values))
                }
            }
        }
    }

    /// The detection feature maps of each input: every stage of `model.featureStages`, or those
    /// named (`neck` stands for a ViT's only stage).
    public func features(_ inputs: [ImageInput], stages: [String] = []) throws -> InferenceStream<FeatureMaps> {
        let names = model.featureStages
        let wanted = stages.map { $0 == "neck" && !names.contains("neck") ? (names.first ?? $0) : $0 }
        for name in wanted where !names.contains(name) {
            throw SessionError.noSuchStage(name, network: model.network, stages: names)
        }
        let context = context, encoder = model.loaded.encoder
        return stream(inputs) { batch in
            let maps = try encoder.detectionFeatures(batch, context: context).filter { wanted.isEmpty || wanted.contains($0.name) }
            return (0..<batch.shape[0]).map { row -> Result<FeatureMaps, OutputFailure> in
                let stages = maps.map { ($0.name, $0.features.rows(row..<(row + 1))) }
                for (name, map) in stages {
                    if let bad = map.withUnsafeBufferPointer({ $0.firstIndex { !$0.isFinite } }) {
                        return .failure(.nonFiniteOutput(what: "feature map '\(name)'", index: bad))
                    }
                }
                return .success(FeatureMaps(stages: stages))
            }
        }
    }

    // MARK: One image

    /// `classify` for one input; its error is thrown.
    public func classify(_ input: ImageInput, topK: Int = 5, includeLogits: Bool = false,
                         testTimeAugmentation: Bool = false) throws -> Classification {
        try single(classify([input], topK: topK, includeLogits: includeLogits, testTimeAugmentation: testTimeAugmentation))
    }

    /// `embed` for one input; its error is thrown.
    public func embed(_ input: ImageInput) throws -> [Float] {
        try single(embed([input]))
    }

    private func single<Value>(_ stream: InferenceStream<Value>) throws -> Value {
        guard let item = stream.next() else { preconditionFailure("a stream over one input yields one item") }
        return try item.result.get()
    }

    // MARK: Plumbing

    private func stream<Value>(_ inputs: [ImageInput],
                               compute: @escaping @Sendable (Tensor) throws -> [Result<Value, OutputFailure>]) -> InferenceStream<Value> {
        let transform = model.transform, options = model.preprocessing.imageLoader.restricting(decodeOptions)
        let prefetcher = BatchPrefetcher(count: inputs.count, batchSize: batchSize, height: model.inputSize.height,
                                         width: model.inputSize.width) { index, output in
            try inputs[index].write(into: output, transform: transform, options: options)
        }
        return InferenceStream(names: inputs.map(\.name), prefetcher: prefetcher, compute: compute)
    }

    /// The index within `row` of the first NaN or ±∞ of a rows × columns tensor, or nil.
    static func firstNonFinite(_ tensor: Tensor, row: Int) -> Int? {
        let columns = tensor.shape[0] == 0 ? 0 : tensor.count / tensor.shape[0]
        return tensor.withUnsafeBufferPointer { values in
            values[(row * columns)..<((row + 1) * columns)].firstIndex { !$0.isFinite }.map { $0 - row * columns }
        }
    }

    /// The k most probable classes of each row, most probable first (ties: lower index first).
    static func top(_ k: Int, of probabilities: Tensor, head: ClassifierHead) -> [[ClassScore]] {
        let classes = head.classCount, rows = probabilities.shape[0], k = min(k, classes)
        return probabilities.withUnsafeBufferPointer { p in
            (0..<rows).map { row in
                let values = p[(row * classes)..<((row + 1) * classes)]
                return values.enumerated()
                    .sorted { $0.element > $1.element || ($0.element == $1.element && $0.offset < $1.offset) }
                    .prefix(k).map { ClassScore(index: $0.offset, name: head.className($0.offset), probability: $0.element) }
            }
        }
    }
}

/// The results of a session call, one per input in input order, computed batch by batch as they
/// are read (decoding of the next batch overlaps the network on this one). Stop early with
/// `cancel()`; a stream that is dropped stops too. Read a stream from one thread at a time (it may
/// be handed between threads); for parallel work, start several calls.
public final class InferenceStream<Value: Sendable>: Sequence, IteratorProtocol, @unchecked Sendable {
    /// Inputs in the stream.
    public let count: Int
    private let names: [String]
    private let prefetcher: BatchPrefetcher
    private let compute: @Sendable (Tensor) throws -> [Result<Value, OutputFailure>]
    private var pending: [InferenceItem<Value>] = []
    private var nextPending = 0

    init(names: [String], prefetcher: BatchPrefetcher,
         compute: @escaping @Sendable (Tensor) throws -> [Result<Value, OutputFailure>]) {
        count = names.count
        self.names = names
        self.prefetcher = prefetcher
        self.compute = compute
    }

    deinit { prefetcher.cancel() }

    /// The next input's result; nil after the last one (or after `cancel()`).
    public func next() -> InferenceItem<Value>? {
        while nextPending == pending.count {
            guard let batch = prefetcher.next() else { return nil }
            pending = items(of: batch)
            nextPending = 0
        }
        defer { nextPending += 1 }
        return pending[nextPending]
    }

    /// Stops preparing further batches; `next()` then ends after what is already prepared.
    public func cancel() { prefetcher.cancel() }

    private func items(of batch: BatchPrefetcher.Batch) -> [InferenceItem<Value>] {
        var items = batch.failures.map { failure in
            InferenceItem<Value>(index: failure.index, name: names[failure.index],
                                 result: .failure(.unreadableImage(name: names[failure.index],
                                                                   reason: String(describing: failure.error))))
        }
        if !batch.indices.isEmpty {
            do {
                let values = try compute(batch.tensor)
                items += zip(batch.indices, values).map { index, value in
                    InferenceItem(index: index, name: names[index],
                                  result: value.mapError { $0.error(name: names[index]) })
                }
            } catch {
                items += batch.indices.map {
                    InferenceItem(index: $0, name: names[$0],
                                  result: .failure(.modelFailed(name: names[$0], reason: String(describing: error))))
                }
            }
        }
        return items.sorted { $0.index < $1.index }
    }
}

public enum SessionError: Error, CustomStringConvertible, Sendable, Equatable {
    case invalidBatchSize(Int)
    /// batch × height × width × 3 floats would exceed `InferenceSession.maximumBatchFloats`.
    case batchTooLarge(batchSize: Int, inputSize: ImageSize)
    case invalidTopK(Int)
    /// `classify` on a model with no head attached and no classifier of its own.
    case noClassifier(String)
    case noSuchStage(String, network: String, stages: [String])

    public var description: String {
        switch self {
        case let .invalidBatchSize(size): return "batch size \(size) is out of range 1…\(InferenceSession.maximumBatchSize)"
        case let .batchTooLarge(size, input):
            return "a batch of \(size) images of \(input) would need more than \((InferenceSession.maximumBatchFloats * 4) >> 30) GiB; use a smaller batch size"
        case let .invalidTopK(k): return "top-k \(k) must be at least 1"
        case let .noClassifier(path): return "\(path) has no classifier; attach a head"
        case let .noSuchStage(name, network, stages):
            return "\(network) has no stage '\(name)' (stages: \(stages.joined(separator: ", ")))"
        }
    }
}

/// A row of a batch whose output cannot be used; becomes that input's `InferenceError`.
enum OutputFailure: Error {
    case nonFiniteOutput(what: String, index: Int)

    func error(name: String) -> InferenceError {
        switch self {
        case let .nonFiniteOutput(what, index): return .nonFiniteOutput(name: name, what: what, index: index)
        }
    }
}
