import BirderCore
import BirderIO
import Foundation

/// A network with the metadata of the checkpoint it came from: what the library needs to prepare
/// inputs and name outputs. Immutable and shared by threads.
package struct LoadedNetwork: Sendable {
    package let encoder: any ImageEncoder
    package let network: String
    /// [H, W] from the checkpoint's signature.
    package let inputSize: [Int]
    package let rgbStats: RGBStats
    /// The checkpoint's classifier with its class names, when it has one.
    package let classifier: LinearClassifier?

    /// Loads `path` (.pt or .safetensors), packing weights for `kernels`. The network is read from
    /// the checkpoint — its tensor names and shapes, with its `config` — and the file name
    /// (`NETWORK_TAG.pt`) only breaks ties; `network` overrides both. The checkpoint's `config`
    /// overrides the registered one. Every tensor must be used and every shape must match.
    package static func load(path: String, network: String? = nil, registry: NetworkRegistry = .builtIn,
                             kernels: KernelTable) throws -> LoadedNetwork {
        let checkpoint = try Checkpoint.load(path)
        guard checkpoint.rgbStats.isValidForRGB else {
            throw ModelLoadError.invalid(path: path, reason: "rgb_stats must hold three means and three non-zero stds, found \(checkpoint.rgbStats)")
        }
        let config = checkpoint.config ?? [:]
        let chosen = try network ?? identify(checkpoint.state, config: config, path: path, registry: registry)
        let binder = ParameterBinder(source: checkpoint.state)
        let encoder: any ImageEncoder
        do {
            encoder = try registry.makeEncoder(network: chosen, binder: binder, numClasses: checkpoint.signature.numClasses,
                                               config: config, inputSize: checkpoint.signature.inputSize, kernels: kernels)
            try binder.finish()
        } catch {
            throw ModelLoadError.invalid(path: path, reason: "not a valid \(chosen) checkpoint: \(error)")
        }
        var classifier = encoder.classifier
        if let stored = classifier, !checkpoint.classNames.isEmpty {
            guard checkpoint.classNames.count == stored.numClasses else {
                throw ModelLoadError.invalid(path: path, reason: "class_to_idx names \(checkpoint.classNames.count) classes, the classifier has \(stored.numClasses)")
            }
            classifier = try LinearClassifier(weight: stored.weight, bias: stored.bias, classNames: checkpoint.classNames)
        }
        return LoadedNetwork(encoder: encoder, network: chosen, inputSize: checkpoint.signature.inputSize,
                             rgbStats: checkpoint.rgbStats, classifier: classifier)
    }

    /// This network for inputs of `height`×`width` (Birder's `load_model(new_size=...)`); the
    /// checkpoint's `inputSize` stays what the checkpoint says.
    package func adjustedForInput(height: Int, width: Int) throws -> LoadedNetwork {
        LoadedNetwork(encoder: try encoder.adjustedForInput(height: height, width: width), network: network,
                      inputSize: inputSize, rgbStats: rgbStats, classifier: classifier)
    }

    /// The network a checkpoint holds: the one its weights fit; among several, the one its file
    /// name starts with (else an error: guessing could pick the wrong activation or epsilon); with
    /// none, the file name's (whose binding then says what differs).
    static func identify(_ state: StateDict, config: [String: ConfigValue], path: String,
                         registry: NetworkRegistry) throws -> String {
        let matches = registry.identify(state, config: config)
        let hint = registry.network(inFileName: URL(fileURLWithPath: path).lastPathComponent)
        if let hint, matches.isEmpty || matches.contains(hint) { return hint }
        if matches.count == 1 { return matches[0] }
        if matches.isEmpty { throw ModelLoadError.unknownNetwork(path: path, known: registry.names) }
        throw ModelLoadError.ambiguousNetwork(path: path, candidates: matches)
    }

    /// A `*.head.pt` linear probe, checked against this model's embedding width, and the encoder
    /// it records having been trained on (nil for Birder's own heads).
    package func loadHead(path: String) throws -> (classifier: LinearClassifier, encoder: HeadEncoder?) {
        let head = try Head.load(path)
        guard head.inputDimension == encoder.embeddingSize else {
            throw ModelLoadError.wrongHead(path: path, headWidth: head.inputDimension, network: network,
                                           embeddingSize: encoder.embeddingSize)
        }
        return (try LinearClassifier(weight: head.weight, bias: head.bias, classNames: head.classNames), head.encoder)
    }
}

package enum ModelLoadError: Error, CustomStringConvertible {
    case invalid(path: String, reason: String)
    case wrongHead(path: String, headWidth: Int, network: String, embeddingSize: Int)
    case unknownNetwork(path: String, known: [String])
    case ambiguousNetwork(path: String, candidates: [String])

    package var description: String {
        switch self {
        case let .invalid(path, reason): return "\(path): \(reason)"
        case let .wrongHead(path, width, network, size):
            return "\(path): the head takes \(width)-wide embeddings, \(network) produces \(size)"
        case let .unknownNetwork(path, known):
            return "\(path): the weights match no network this engine builds (known: \(known.joined(separator: ", ")))"
        case let .ambiguousNetwork(path, candidates):
            return "\(path): the weights fit several networks (\(candidates.joined(separator: ", "))); name the file NETWORK_TAG.pt or pass the network"
        }
    }
}
