import BirderCore
import BirderHub
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
    /// The size images are resized to: the checkpoint's (its signature), unless set with
    /// `withInputSize`.
    public private(set) var inputSize: ImageSize
    /// The input size the checkpoint was made for.
    public var checkpointInputSize: ImageSize { ImageSize(height: loaded.inputSize[0], width: loaded.inputSize[1]) }
    /// Width of the embeddings.
    public var embeddingSize: Int { loaded.encoder.embeddingSize }
    /// Mean and standard deviation the inputs are normalised with.
    public var rgbStats: RGBStats { loaded.rgbStats }
    /// Names of the detection feature stages, e.g. `stage1`…`stage4`.
    public var featureStages: [String] { loaded.encoder.stageNames }
    /// The kernel set whose layout the weights are packed for.
    public let instructionSet: InstructionSet
    /// The precision of the network's products (`.bf16`: bfloat16 weights and GEMM inputs, Float32
    /// sums), as its weights were packed. Heads always run in Float32.
    public var precision: Precision { loaded.encoder.packedFor.precision }
    /// Heads attached with `load(heads:)` or `attachingHead`, in that order.
    public let heads: [ClassifierHead]
    /// Birder's preprocessing options (`--center-crop`, `--simple-crop`); the defaults are the
    /// model cards' (resize to the input size, no crop). Set with `withPreprocessing`.
    public private(set) var preprocessing = Preprocessing()
    /// The classifier stored in the checkpoint itself, if any (used when no head is attached).
    public var checkpointClassifier: ClassifierHead? {
        loaded.classifier.map { ClassifierHead(name: "classifier", file: checkpoint, classifier: $0) }
    }

    package private(set) var loaded: LoadedNetwork

    /// Loads a model by registry name (looked up in `store`) or by checkpoint path, with heads by
    /// level (`species` → `NAME-species.head.pt` beside the checkpoint) or by path. A catalogue
    /// model or published head missing from the store's directory is downloaded first, verified,
    /// unless the store's `fetching` is `.never` (or `$BIRDER_OFFLINE` is set).
    ///
    /// - network: Birder's network name, when the checkpoint's weights alone cannot tell it.
    /// - instructionSet: the kernels the weights are packed for (default: `BIRDER_ISA`, else the
    ///   best this CPU runs); a session runs the model with kernels of the same layout.
    /// - precision: `.bf16` packs the weights as bfloat16 (about half the memory) and rounds the
    ///   inputs of every product to bfloat16 (see `Precision`); emulated where the kernel set has no
    ///   bf16 instructions (`instructionSet.runsBF16Natively`).
    /// - allowForeignHeads: attach heads that record another encoder (see `attachingHead`).
    public static func load(_ nameOrPath: String, heads: [String] = [], store: ModelStore = ModelStore(),
                            network: String? = nil, instructionSet: InstructionSet? = nil, precision: Precision = .fp32,
                            allowForeignHeads: Bool = false) throws -> BirderModel {
        try load(nameOrPath, heads: heads, store: store, network: network, instructionSet: instructionSet,
                 precision: precision, registry: .builtIn, allowForeignHeads: allowForeignHeads)
    }

    /// `load` with another set of network families (tests, applications with their own network).
    package static func load(_ nameOrPath: String, heads: [String] = [], store: ModelStore = ModelStore(),
                             network: String? = nil, instructionSet: InstructionSet? = nil, precision: Precision = .fp32,
                             registry: NetworkRegistry, allowForeignHeads: Bool = false) throws -> BirderModel {
        let file = try store.checkpoint(for: nameOrPath, heads: heads)
        if let network, !registry.names.contains(network) {
            throw ModelStoreError.unknownNetwork(network, known: registry.names)
        }
        let set = try instructionSet ?? InstructionSet.preferred()
        let loaded = try LoadedNetwork.load(path: file.path, network: network, registry: registry,
                                            kernels: try KernelTable(set, precision: precision))
        let stem = file.deletingPathExtension().lastPathComponent
        let name = try store.model(named: nameOrPath) != nil && !ModelStore.isPath(nameOrPath) ? nameOrPath : stem
        var model = BirderModel(name: name, network: loaded.network, checkpoint: file,
                                inputSize: ImageSize(height: loaded.inputSize[0], width: loaded.inputSize[1]),
                                instructionSet: set, heads: [], loaded: loaded)
        for head in heads { model = try model.attachingHead(head, store: store, allowForeignEncoder: allowForeignHeads) }
        return model
    }

    /// This model with one more head: a level (`species` → `<checkpoint stem>-species.head.pt`
    /// beside the checkpoint) or a `.head.pt` path. The head must take this model's embeddings.
    /// A head that records the encoder it was trained on (`birder probe train` writes it) must
    /// name this model's network and checkpoint (SHA-256), unless `allowForeignEncoder`: another
    /// encoder's embeddings of the same width would give confident nonsense.
    public func attachingHead(_ levelOrPath: String, store: ModelStore = ModelStore(),
                              allowForeignEncoder: Bool = false) throws -> BirderModel {
        let file = try store.head(levelOrPath, besideCheckpoint: checkpoint)
        let (classifier, trainedOn) = try loaded.loadHead(path: file.path)
        if let trainedOn, !allowForeignEncoder {
            let digest = trainedOn.network == network ? try Downloader.sha256(of: checkpoint) : nil
            if trainedOn.network != network || digest != trainedOn.checkpointSHA256 {
                throw ForeignHeadError(head: file.path, trainedOn: trainedOn, model: checkpoint.path, network: network,
                                       checkpointSHA256: digest)
            }
        }
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

    /// The settings beyond the checkpoint that change this model's outputs, each only when it is
    /// not the default (so runs and cache entries without any keep the identity they always had):
    /// what a run's identity and the embedding cache's key name.
    var outputSettings: [(name: String, value: String)] {
        var settings: [(name: String, value: String)] = []
        if preprocessing.centerCrop != 1.0 || preprocessing.simpleCrop {
            settings += [("center_crop", "\(preprocessing.centerCrop)"), ("simple_crop", "\(preprocessing.simpleCrop)")]
        }
        if preprocessing.imageLoader != .pil { settings.append(("img_loader", preprocessing.imageLoader.rawValue)) }
        if inputSize != checkpointInputSize { settings.append(("size", "\(inputSize.height)x\(inputSize.width)")) }
        if precision != .fp32 { settings.append(("precision", precision.rawValue)) }
        return settings
    }

    /// The inference transform of this model (Pillow-exact bicubic resize to the input size,
    /// then the checkpoint's normalisation).
    var transform: InferenceTransform {
        InferenceTransform(height: inputSize.height, width: inputSize.width, stats: loaded.rgbStats,
                           centerCrop: preprocessing.centerCrop, simpleCrop: preprocessing.simpleCrop,
                           resampler: preprocessing.imageLoader == .tv ? .torchvision : .pillow)
    }

    /// This model with Birder's preprocessing options: `centerCrop` c resizes to
    /// `(int(H / c), int(W / c))` and crops the centre H×W (Birder's `--center-crop`, 0 < c ≤ 1
    /// in practice); `simpleCrop` resizes keeping the aspect ratio to cover that size first
    /// (Birder's `--simple-crop`).
    public func withPreprocessing(centerCrop: Double = 1.0, simpleCrop: Bool = false,
                                  imageLoader: ImageLoader = .pil) throws -> BirderModel {
        guard centerCrop > 0, centerCrop.isFinite,
              Int(Double(inputSize.height) / centerCrop) > 0, Int(Double(inputSize.width) / centerCrop) > 0,
              Double(inputSize.height) / centerCrop < 1e6, Double(inputSize.width) / centerCrop < 1e6 else {
            throw PreprocessingError.invalidCenterCrop(centerCrop, inputSize: inputSize)
        }
        var copy = self
        copy.preprocessing = Preprocessing(centerCrop: centerCrop, simpleCrop: simpleCrop, imageLoader: imageLoader)
        return copy
    }
}

extension BirderModel {
    /// What a head trained on this model's embeddings records: the network and the checkpoint's
    /// SHA-256 (the file is read through once).
    public func encoderRecord() throws -> HeadEncoder {
        HeadEncoder(network: network, checkpointSHA256: try Downloader.sha256(of: checkpoint))
    }

    /// This model at another inference resolution, as Birder's `predict --size H W`
    /// (`load_model(new_size=...)` → `adjust_size`): images are resized to `size`, and a ViT's
    /// position embedding is resized once to the new patch grid (bicubic, antialiased); a
    /// convolutional network runs as it is. Each side must be a multiple of the network's stride
    /// (RDNet 32, a ViT its patch size). Heads and preprocessing are kept.
    public func withInputSize(_ size: ImageSize) throws -> BirderModel {
        let multiple = loaded.encoder.inputMultiple
        guard size.height > 0, size.width > 0, size.height % multiple == 0, size.width % multiple == 0,
              size.height <= 8192, size.width <= 8192 else {
            throw PreprocessingError.invalidInputSize(size, network: network, multiple: multiple)
        }
        var copy = self
        copy.loaded = try loaded.adjustedForInput(height: size.height, width: size.width)
        copy.inputSize = size
        // The crop options were checked against the old size.
        _ = try copy.withPreprocessing(centerCrop: preprocessing.centerCrop, simpleCrop: preprocessing.simpleCrop,
                                       imageLoader: preprocessing.imageLoader)
        return copy
    }
}

/// A head trained on another encoder's embeddings than the model it is attached to.
public struct ForeignHeadError: Error, CustomStringConvertible, Sendable, Equatable {
    public let head: String
    public let trainedOn: HeadEncoder
    public let model: String
    public let network: String
    /// The model's checkpoint digest (nil when the networks already differ).
    public let checkpointSHA256: String?

    public var description: String {
        let this = checkpointSHA256.map { "\(network) (checkpoint sha256 \($0.prefix(12))…)" } ?? network
        return "\(head): this head was trained on embeddings of \(trainedOn), not of \(model), which is \(this); its predictions on this model's embeddings would be meaningless"
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

/// Birder's preprocessing options for inference (`inference_preset`'s `center_crop`, `simple_crop`,
/// and `--img-loader`).
public struct Preprocessing: Sendable, Equatable {
    public var centerCrop: Double = 1.0
    public var simpleCrop: Bool = false
    public var imageLoader: ImageLoader = .pil

    public init(centerCrop: Double = 1.0, simpleCrop: Bool = false, imageLoader: ImageLoader = .pil) {
        self.centerCrop = centerCrop
        self.simpleCrop = simpleCrop
        self.imageLoader = imageLoader
    }
}

/// Birder's `--img-loader`: how an image file becomes the uint8 pixels that are resized.
public enum ImageLoader: String, Sendable, Equatable, CaseIterable {
    /// `PIL.Image.open(p).convert("RGB")`, resized by Pillow: the model cards' and this engine's
    /// default; every format the decoder reads.
    case pil
    /// `torchvision.io.decode_image(p, RGB)`, resized by torchvision on the uint8 tensor:
    /// `birder-predict`'s default. JPEG, PNG and WebP only, as torchvision reads those.
    case tv

    /// What a session decodes with this loader.
    func restricting(_ options: ImageDecodeOptions) -> ImageDecodeOptions {
        guard self == .tv else { return options }
        var restricted = options
        restricted.formats = [.jpeg, .png, .webp]
        restricted.formatsReader = "Birder's tv image loader (torchvision.io.decode_image)"
        return restricted
    }
}

public enum PreprocessingError: Error, CustomStringConvertible, Sendable, Equatable {
    case invalidCenterCrop(Double, inputSize: ImageSize)
    /// Not a positive multiple of the network's stride (`multiple`), or above 8192.
    case invalidInputSize(ImageSize, network: String, multiple: Int)

    public var description: String {
        switch self {
        case let .invalidCenterCrop(crop, size):
            return "center crop \(crop) does not fit the input size \(size) (it resizes to int(size / crop) first; use a value in (0, 1])"
        case let .invalidInputSize(size, network, multiple):
            return "input size \(size) does not suit \(network): each side must be a multiple of \(multiple) from \(multiple) to 8192"
        }
    }
}
