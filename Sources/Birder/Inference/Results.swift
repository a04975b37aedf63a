import BirderCore
import Foundation

/// What went wrong with one input; the other inputs of the same run are not affected.
public enum InferenceError: Error, CustomStringConvertible, Sendable, Equatable {
    /// The image could not be read or decoded (the reason names the file).
    case unreadableImage(name: String, reason: String)
    /// The network refused the batch or failed on it.
    case modelFailed(name: String, reason: String)
    /// The network gave NaN or ±∞ (`what`: the embedding, a head's probabilities, a feature map;
    /// `index`: the first bad value's position in it), as non-finite weights do. Reported instead
    /// of an answer, which would otherwise look plausible (e.g. uniform probabilities).
    case nonFiniteOutput(name: String, what: String, index: Int)

    public var description: String {
        switch self {
        case let .nonFiniteOutput(name, what, index):
            return "\(name): the model's \(what) is not finite (NaN or infinity at index \(index)); the checkpoint's weights are probably corrupt"
        case let .unreadableImage(name, reason), let .modelFailed(name, reason):
            // Decoder errors already start with the file name.
            return reason.hasPrefix(name) ? reason : "\(name): \(reason)"
        }
    }
}

/// One input's outcome, in input order.
public struct InferenceItem<Value: Sendable>: Sendable {
    /// Position of the input in the list given to the session.
    public let index: Int
    /// The input's name (its path for files).
    public let name: String
    public let result: Result<Value, InferenceError>

    public var value: Value? { try? result.get() }
}

/// A class and its probability.
public struct ClassScore: Sendable, Equatable {
    /// Index in the head's classes.
    public let index: Int
    /// The class name (the index as text when the head has no names).
    public let name: String
    public let probability: Float
}

/// The most probable classes of one head, most probable first (ties: lower index first).
public struct HeadPrediction: Sendable, Equatable {
    /// The head's name: its level (e.g. `species`), file name, or `classifier`.
    public let head: String
    public let top: [ClassScore]
    /// Every class's logit (the classifier's output before softmax), by class index, when the
    /// call asked for them (`includeLogits`); nil otherwise.
    public let logits: [Float]?
}

/// The predictions of every head of the model for one image.
public struct Classification: Sendable, Equatable {
    public let heads: [HeadPrediction]

    /// The prediction of one head by name.
    public subscript(head: String) -> HeadPrediction? { heads.first { $0.head == head } }
}

/// Detection feature maps of one image: stage name → 1×C×H×W (NCHW, as Birder returns them).
public struct FeatureMaps: Sendable {
    public let stages: [(name: String, features: Tensor)]
}
