public import BirderCore
import BirderIO

/// A network with the metadata of the checkpoint it came from: what the CLI and a server need to
/// prepare inputs and name outputs. Immutable and shared by threads.
public struct LoadedModel: Sendable {
    public let encoder: any ImageEncoder
    public let network: String
    /// [H, W] from the checkpoint's signature.
    public let inputSize: [Int]
    public let rgbStats: RGBStats
    /// The checkpoint's classifier with its class names, when it has one.
    public let classifier: LinearClassifier?

    /// Loads `path` (.pt or .safetensors) as `network`; the checkpoint's `config` overrides the
    /// registered one. Every tensor must be used and every shape must match.
    public static func load(path: String, network: String) throws -> LoadedModel {
        let checkpoint = try Checkpoint.load(path)
        guard checkpoint.rgbStats.isValidForRGB else {
            throw ModelLoadError.invalid(path: path, reason: "rgb_stats must hold three means and three non-zero stds, found \(checkpoint.rgbStats)")
        }
        let binder = ParameterBinder(source: checkpoint.state)
        let encoder: any ImageEncoder
        do {
            encoder = try NetworkRegistry.makeEncoder(network: network, binder: binder,
                                                      numClasses: checkpoint.signature.numClasses,
                                                      config: checkpoint.config ?? [:],
                                                      inputSize: checkpoint.signature.inputSize)
            try binder.finish()
        } catch {
            throw ModelLoadError.invalid(path: path, reason: "not a valid \(network) checkpoint: \(error)")
        }
        var classifier = encoder.classifier
        if let stored = classifier, !checkpoint.classNames.isEmpty {
            guard checkpoint.classNames.count == stored.numClasses else {
                throw ModelLoadError.invalid(path: path, reason: "class_to_idx names \(checkpoint.classNames.count) classes, the classifier has \(stored.numClasses)")
            }
            classifier = try LinearClassifier(weight: stored.weight, bias: stored.bias, classNames: checkpoint.classNames)
        }
        return LoadedModel(encoder: encoder, network: network, inputSize: checkpoint.signature.inputSize,
                           rgbStats: checkpoint.rgbStats, classifier: classifier)
    }

    /// A `*.head.pt` linear probe, checked against this model's embedding width.
    public func loadHead(path: String) throws -> LinearClassifier {
        let head = try Head.load(path)
        guard head.inputDimension == encoder.embeddingSize else {
            throw ModelLoadError.wrongHead(path: path, headWidth: head.inputDimension, network: network,
                                           embeddingSize: encoder.embeddingSize)
        }
        return try LinearClassifier(weight: head.weight, bias: head.bias, classNames: head.classNames)
    }
}

public enum ModelLoadError: Error, CustomStringConvertible {
    case invalid(path: String, reason: String)
    case wrongHead(path: String, headWidth: Int, network: String, embeddingSize: Int)

    public var description: String {
        switch self {
        case let .invalid(path, reason): return "\(path): \(reason)"
        case let .wrongHead(path, width, network, size):
            return "\(path): the head takes \(width)-wide embeddings, \(network) produces \(size)"
        }
    }
}
