import BirderCore
import BirderModels

/// The outputs of a preprocessed batch: for clients that resize and normalise images themselves
/// (the Open Inference Protocol's `infer`).
public struct TensorOutputs: Sendable {
    /// N × `model.embeddingSize`.
    public let embeddings: Tensor
    /// Each classifying head's N × classes probabilities, in `model.classifyingHeads` order.
    public let probabilities: [(head: String, values: Tensor)]
}

extension InferenceSession {
    /// Runs a batch that is already resized and normalised: N×3×H×W (NCHW, PyTorch's layout, as a
    /// client's `transform(image)` gives it) at the model's input size. The network's own checks
    /// refuse other shapes. A model without heads gives embeddings only.
    public func outputs(preprocessed batch: Tensor) throws -> TensorOutputs {
        let size = model.inputSize
        guard batch.shape.count == 4, batch.shape[0] >= 1, batch.shape[1] == 3,
              batch.shape[2] == size.height, batch.shape[3] == size.width else {
            throw ModelInputError.badShape(network: model.network, shape: batch.shape,
                                           reason: "expected N×3×\(size.height)×\(size.width) (NCHW, RGB)")
        }
        let n = batch.shape[0], plane = size.height * size.width
        // The encoders take NHWC; the protocol's tensors are NCHW.
        let nhwc = batch.withUnsafeBufferPointer { source in
            Tensor(shape: [n, size.height, size.width, 3]) { destination in
                for image in 0..<n {
                    let from = image * 3 * plane
                    for pixel in 0..<plane {
                        for channel in 0..<3 {
                            destination[(from + pixel * 3) + channel] = source[from + channel * plane + pixel]
                        }
                    }
                }
            }
        }
        let encoder = model.loaded.encoder
        let embeddings = try encoder.embedding(nhwc, context: context)
        let probabilities = try model.classifyingHeads.map {
            (head: $0.name, values: try $0.classifier.probabilities(embeddings, context: context))
        }
        return TensorOutputs(embeddings: embeddings, probabilities: probabilities)
    }
}
