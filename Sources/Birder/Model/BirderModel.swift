import BirderCore
import BirderIO
import BirderModels
import BirderVision
import Foundation

/// A Birder checkpoint loaded for inference: the network (read from the checkpoint itself), its
/// preprocessing, and the classifier heads attached to it. Immutable and `Sendable`: share one
/// between threads and sessions.
///
/// ```swift
/// let model = try BirderModel.load("rdnet_t_ibot-bioscan5m", heads: ["species"])
/// ```
public struct BirderModel: Sendable {
    /// The registry name (for a catalogue model) or the checkpoint's file stem.
    public let name: String
    /// Birder's network name, e.g. `rdnet_t`.
    public let network: String
    public let checkpoint: URL
    /// The input size the checkpoint was made for: images are resized to it.
    public let inputSize: ImageSize
    /// Width of the embeddings.
    public var embeddingSize: Int { loaded.encoder.embeddingSize }
    /// Mean and standard deviation the inputs are normalised with.
    public var rgbStats: RGBStats { loaded.rgbStats }
    /// Names of the detection feature stages, e.g. `stage1`…`stage4`.
    public var featureStages: [String] { loaded.encoder.stageNames }
    /// The kernel set whose layout the weights are packed for.
    public let instructionSet: InstructionSet
    /// Heads attached with `load(heads:)` or `attachingHead`, in that order.
    public let heads: [ClassifierHead]
    /// Birder's preprocessing options (`--center-crop`, `--simple-crop`); the defaults are the
    /// model cards' (resize to the input size, no crop). Set with `withPreprocessing`.
    public private(set) var preprocessing = Preprocessing()
    /// The classifier stored in the checkpoint itself, if any (used when no head is attached).
    public var checkpointClassifier: ClassifierHead? {
        loaded.classifier.map { ClassifierHead(name: "classifier", file: checkpoint, classifier: $0) }
    }

    package let loaded: LoadedNetwork

    /// Loads a model by registry name (looked up in `store`) or by checkpoint path, with heads by
    /// level (`species` → `NAME-species.head.pt` beside the checkpoint) or by path. A catalogue
    /// model or published head missing from the store's directory is downloaded first, verified,
    /// unless the store's `fetching` is `.never` (or `$BIRDER_OFFLINE` is set).
    ///
    /// - network: Birder's network name, when the checkpoint's weights alone cannot tell it.
    /// - instructionSet: the kernels the weights are packed for (default: `BIRDER_ISA`, else the
    ///   best this CPU runs); a session runs the model with kernels of the same layout.
    public static func load(_ nameOrPath: String, heads: [String] = [], store: ModelStore = ModelStore(),
                            network: String? = nil, instructionSet: InstructionSet? = nil) throws -> BirderModel {
        try load(nameOrPath, heads: heads, store: store, network: network, instructionSet: instructionSet,
                 registry: .builtIn)
    }

    /// `load` with another set of network families (tests, applications with their own network).
    package static func load(_ nameOrPath: String, heads: [String] = [], store: ModelStore = ModelStore(),
                             network: String? = nil, instructionSet: InstructionSet? = nil,
                             registry: NetworkRegistry) throws -> BirderModel {
        let file = try store.checkpoint(for: nameOrPath, heads: heads)
        if let network, !registry.names.contains(network) {
            throw ModelStoreError.unknownNetwork(network, known: registry.names)
        }
        let set = try instructionSet ?? InstructionSet.preferred()
        let loaded = try LoadedNetwork.load(path: file.path, network: network, registry: registry,
                                            kernels: try KernelTable(set))
        let stem = file.deletingPathExtension().lastPathComponent
        let name = try store.model(named: nameOrPath) != nil && !ModelStore.isPath(nameOrPath) ? nameOrPath : stem
        var model = BirderModel(name: name, network: loaded.network, checkpoint: file,
                                inputSize: ImageSize(height: loaded.inputSize[0], width: loaded.inputSize[1]),
                                instructionSet: set, heads: [], loaded: loaded)
        for head in heads { model = try model.attachingHead(head, store: store) }
        return model
    }

    /// This model with one more head: a level (`species` → `<checkpoint stem>-species.head.pt`
    /// beside the checkpoint) or a `.head.pt` path. The head must take this model's embeddings.
    public func attachingHead(_ levelOrPath: String, store: ModelStore = ModelStore()) throws -> BirderModel {
        let file = try store.head(levelOrPath, besideCheckpoint: checkpoint)
        let classifier = try loaded.loadHead(path: file.path)
        let headName = ModelStore.isPath(levelOrPath) ? file.lastPathComponent : levelOrPath
        return BirderModel(name: name, network: network, checkpoint: checkpoint, inputSize: inputSize,
                           instructionSet: instructionSet,
                           heads: heads + [ClassifierHead(name: headName, file: file, classifier: classifier)],
                           preprocessing: preprocessing, loaded: loaded)
    }

    /// The heads `classify` reports: the attached ones, else the checkpoint's own classifier.
    public var classifyingHeads: [ClassifierHead] {
        heads.isEmpty ? checkpointClassifier.map { [$0] } ?? [] : heads
    }

    /// The inference transform of this model (Pillow-exact bicubic resize to the input size,
    /// then the checkpoint's normalisation).
    var transform: InferenceTransform {
        InferenceTransform(height: inputSize.height, width: inputSize.width, stats: loaded.rgbStats,
                           centerCrop: preprocessing.centerCrop, simpleCrop: preprocessing.simpleCrop)
    }

    /// This model with Birder's preprocessing options: `centerCrop` c resizes to
    /// `(int(H / c), int(W / c))` and crops the centre H×W (Birder's `--center-crop`, 0 < c ≤ 1
    /// in practice); `simpleCrop` resizes keeping the aspect ratio to cover that size first
    /// (Birder's `--simple-crop`).
    public func withPreprocessing(centerCrop: Double = 1.0, simpleCrop: Bool = false) throws -> BirderModel {
        guard centerCrop > 0, centerCrop.isFinite,
              Int(Double(inputSize.height) / centerCrop) > 0, Int(Double(inputSize.width) / centerCrop) > 0,
              Double(inputSize.height) / centerCrop < 1e6, Double(inputSize.width) / centerCrop < 1e6 else {
            throw PreprocessingError.invalidCenterCrop(centerCrop, inputSize: inputSize)
        }
        var copy = self
        copy.preprocessing = Preprocessing(centerCrop: centerCrop, simpleCrop: simpleCrop)
        return copy
    }
}

/// Height and width in pixels.
public struct ImageSize: Sendable, Equatable, CustomStringConvertible {
    public let height: Int
    public let width: Int

    public init(height: Int, width: Int) {
        self.height = height
        self.width = width
    }

    public var description: String { "\(height)×\(width)" }
}

/// A linear classifier over the model's embeddings: a `*.head.pt` linear probe or the
/// checkpoint's own classifier.
public struct ClassifierHead: Sendable {
    /// The level it was attached by (e.g. `species`), its file name, or `classifier`.
    public let name: String
    public let file: URL
    package let classifier: LinearClassifier

    /// Class names by index (empty when the file has none).
    public var classNames: [String] { classifier.classNames }
    public var classCount: Int { classifier.numClasses }

    /// The name of class `index` (the index as text when the head has no names).
    public func className(_ index: Int) -> String {
        classifier.classNames.isEmpty ? String(index) : classifier.classNames[index]
    }
}

/// Birder's preprocessing options for inference (`inference_preset`'s `center_crop`, `simple_crop`).
public struct Preprocessing: Sendable, Equatable {
    public var centerCrop: Double = 1.0
    public var simpleCrop: Bool = false

    public init(centerCrop: Double = 1.0, simpleCrop: Bool = false) {
        self.centerCrop = centerCrop
        self.simpleCrop = simpleCrop
    }
}

public enum PreprocessingError: Error, CustomStringConvertible, Sendable, Equatable {
    case invalidCenterCrop(Double, inputSize: ImageSize)

    public var description: String {
        switch self {
        case let .invalidCenterCrop(crop, size):
            return "center crop \(crop) does not fit the input size \(size) (it resizes to int(size / crop) first; use a value in (0, 1])"
        }
    }
}
