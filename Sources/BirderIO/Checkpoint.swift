import BirderCore

/// A network's input/output description as Birder stores it (`signature`):
/// `{"inputs": [{"data_shape": [0, C, H, W]}], "outputs": [{"data_shape": [0, N]}]}`.
public struct Signature: Sendable, Equatable {
    /// The whole signature as stored, written back unchanged.
    public let json: JSONValue
    public let inputChannels: Int
    /// [H, W].
    public let inputSize: [Int]
    /// `num_labels` when present, else the second dimension of the first output.
    public let numClasses: Int

    /// The largest input side a checkpoint may declare: 8× Birder's largest published inputs, and
    /// small enough that a batch's size in bytes fits in an Int.
    public static let maximumSide = 4096
    public static let maximumChannels = 64
    /// Far above any classifier Birder trains (BIOSCAN-5M species: about 22,600).
    public static let maximumClasses = 1 << 24

    public init(inputChannels: Int = 3, inputSize: [Int], numClasses: Int) {
        precondition(inputSize.count == 2, "Signature: inputSize is [H, W]")
        self.inputChannels = inputChannels
        self.inputSize = inputSize
        self.numClasses = numClasses
        json = .object([
            JSONMember("inputs", .array([.object([JSONMember("data_shape", .array(([0, inputChannels] + inputSize).map { .int($0) }))])])),
            JSONMember("outputs", .array([.object([JSONMember("data_shape", .array([.int(0), .int(numClasses)]))])])),
        ])
    }

    init(json: JSONValue, path: String) throws(BirderIOError) {
        func fail(_ reason: String) -> BirderIOError { .invalidContent(path: path, reason: "signature: \(reason)") }
        guard let input = json["inputs"]?.arrayValue?.first?["data_shape"]?.arrayValue,
              input.count == 4, let channels = input[1].intValue, let h = input[2].intValue, let w = input[3].intValue else {
            throw fail("inputs[0].data_shape is not [N, C, H, W]")
        }
        guard channels > 0, h > 0, w > 0 else { throw fail("input shape \(input.map { $0.serialized() }) is not positive") }
        // Untrusted numbers that size every buffer of a run: bounded here so that no product of
        // them can overflow and a hostile signature is this error, not a trap or a huge allocation.
        guard channels <= Signature.maximumChannels, h <= Signature.maximumSide, w <= Signature.maximumSide else {
            throw fail("input shape \(input.map { $0.serialized() }) is out of range (at most \(Signature.maximumChannels) channels, sides of at most \(Signature.maximumSide) pixels)")
        }
        let classes: Int
        if let labels = json["num_labels"]?.intValue {
            classes = labels
        } else if let output = json["outputs"]?.arrayValue?.first?["data_shape"]?.arrayValue, output.count >= 2,
                  let n = output[1].intValue {
            classes = n
        } else {
            throw fail("no num_labels and outputs[0].data_shape is not [N, classes]")
        }
        guard classes >= 0 else { throw fail("negative number of classes") }
        guard classes <= Signature.maximumClasses else { throw fail("\(classes) classes (at most \(Signature.maximumClasses))") }
        self.json = json
        inputChannels = channels
        inputSize = [h, w]
        numClasses = classes
    }
}

/// Birder stores `rgb_stats` as `{"mean": [...], "std": [...]}`.
extension RGBStats {
    init(json: JSONValue, path: String) throws(BirderIOError) {
        guard let mean = json["mean"]?.arrayValue?.compactMap(\.doubleValue), let std = json["std"]?.arrayValue?.compactMap(\.doubleValue),
              mean.count == json["mean"]?.arrayValue?.count, std.count == json["std"]?.arrayValue?.count,
              !mean.isEmpty, mean.count == std.count else {
            throw .invalidContent(path: path, reason: "rgb_stats is not {\"mean\": [numbers], \"std\": [numbers]} of equal lengths")
        }
        guard std.allSatisfy({ $0 != 0 && $0.isFinite }) else { throw .invalidContent(path: path, reason: "rgb_stats std has a zero or non-finite value") }
        self.init(mean: mean, std: std)
    }

    public var json: JSONValue {
        .object([JSONMember("mean", .array(mean.map { .double($0) })), JSONMember("std", .array(std.map { .double($0) }))])
    }
}

/// Class names ordered by index, from a `class_to_idx` mapping whose indices must be exactly 0..<N.
func classNames(from pairs: [(String, Int)], path: String) throws(BirderIOError) -> [String] {
    var names = [String?](repeating: nil, count: pairs.count)
    for (name, index) in pairs {
        guard index >= 0, index < pairs.count, names[index] == nil else {
            throw .invalidContent(path: path, reason: "class_to_idx indices are not 0..<\(pairs.count) each used once (class '\(name)' → \(index))")
        }
        names[index] = name
    }
    return names.map { $0! }
}

func classToIdxPairs(_ value: PickleValue?, path: String) throws(BirderIOError) -> [(String, Int)] {
    guard let dict = value?.dictValue else { throw .invalidContent(path: path, reason: "class_to_idx is missing or not a dict") }
    var pairs: [(String, Int)] = []
    for entry in dict.entries {
        guard let name = entry.key.stringValue, let index = entry.value.intValue else {
            throw .invalidContent(path: path, reason: "class_to_idx holds a non string → int entry")
        }
        pairs.append((name, index))
    }
    return pairs
}

/// A Birder model checkpoint: the network's state dict and what Birder keeps beside it.
/// Read from `.pt` (`torch.save` of a dict) or `.safetensors` (metadata as JSON strings).
public struct Checkpoint: Sendable {
    public enum Format: String, Sendable { case pt, safetensors }

    public var state: StateDict
    public var signature: Signature
    /// Class names by index (`class_to_idx` inverted); may be empty for encoders.
    public var classNames: [String]
    public var rgbStats: RGBStats
    /// The network config override Birder stored, when any.
    public var config: [String: ConfigValue]?
    public var birderVersion: String?
    public var task: String?

    public init(state: StateDict, signature: Signature, classNames: [String], rgbStats: RGBStats,
                config: [String: ConfigValue]? = nil, birderVersion: String? = nil, task: String? = "image_classification") {
        self.state = state
        self.signature = signature
        self.classNames = classNames
        self.rgbStats = rgbStats
        self.config = config
        self.birderVersion = birderVersion
        self.task = task
    }

    public var classToIdx: [String: Int] {
        Dictionary(classNames.enumerated().map { ($1, $0) }, uniquingKeysWith: { first, _ in first })
    }

    /// Loads `.safetensors` files (recognised by content) and `.pt` files.
    public static func load(_ path: String) throws(BirderIOError) -> Checkpoint {
        guard case .checkpoint(let checkpoint, _) = try WeightsFile.open(path) else {
            throw .invalidContent(path: path, reason: "not a Birder model checkpoint (no signature / rgb_stats)")
        }
        return checkpoint
    }

    init(path: String, pickle top: PickleValue) throws(BirderIOError) {
        guard let dict = top.dictValue else { throw .invalidContent(path: path, reason: "top-level object is not a dict") }
        guard let stateDict = dict["state"]?.dictValue else { throw .invalidContent(path: path, reason: "no 'state' dict") }
        guard let signatureJSON = dict["signature"]?.jsonValue else { throw .invalidContent(path: path, reason: "no 'signature'") }
        guard let rgbJSON = dict["rgb_stats"]?.jsonValue else { throw .invalidContent(path: path, reason: "no 'rgb_stats'") }
        state = try StateDict(path: path, pickle: stateDict)
        signature = try Signature(json: signatureJSON, path: path)
        rgbStats = try RGBStats(json: rgbJSON, path: path)
        classNames = try BirderIO.classNames(from: try classToIdxPairs(dict["class_to_idx"], path: path), path: path)
        if let configValue = dict["config"], case .dict = configValue {
            guard let json = configValue.jsonValue, let members = json.objectValue else {
                throw .invalidContent(path: path, reason: "config holds values that are not plain data")
            }
            config = Dictionary(members.map { ($0.key, ConfigValue(json: $0.value)) }, uniquingKeysWith: { _, last in last })
        }
        birderVersion = dict["birder_version"]?.stringValue
        task = dict["task"]?.stringValue
    }

    init(path: String, safetensors file: Safetensors.File) throws(BirderIOError) {
        func json(_ key: String) throws(BirderIOError) -> JSONValue? {
            guard let text = file.metadata[key], !text.isEmpty else { return nil }
            do {
                return try JSONValue.parse(text)
            } catch {
                throw .invalidContent(path: path, reason: "metadata '\(key)' is not JSON: \(error)")
            }
        }
        guard let signatureJSON = try json("signature") else { throw .invalidContent(path: path, reason: "no 'signature' in __metadata__") }
        guard let rgbJSON = try json("rgb_stats") else { throw .invalidContent(path: path, reason: "no 'rgb_stats' in __metadata__") }
        state = file.tensors
        signature = try Signature(json: signatureJSON, path: path)
        rgbStats = try RGBStats(json: rgbJSON, path: path)
        guard let classJSON = try json("class_to_idx"), let members = classJSON.objectValue else {
            throw .invalidContent(path: path, reason: "class_to_idx is missing or not an object")
        }
        var pairs: [(String, Int)] = []
        for member in members {
            guard let index = member.value.intValue else { throw .invalidContent(path: path, reason: "class_to_idx value is not an integer") }
            pairs.append((member.key, index))
        }
        classNames = try BirderIO.classNames(from: pairs, path: path)
        if let configJSON = try json("config") {
            guard let members = configJSON.objectValue else { throw .invalidContent(path: path, reason: "config is not an object") }
            config = Dictionary(members.map { ($0.key, ConfigValue(json: $0.value)) }, uniquingKeysWith: { _, last in last })
        }
        birderVersion = file.metadata["birder_version"]
        task = file.metadata["task"]
    }

    private var classToIdxJSON: JSONValue { .object(classNames.enumerated().map { JSONMember($1, .int($0)) }) }
    private var configJSON: JSONValue? {
        config.map { ConfigValue.dictionary($0).json }
    }

    /// Writes the checkpoint as Birder's own writers do (`fs_ops.checkpoint_model` for `.pt`,
    /// `fs_ops.save_st` for `.safetensors`).
    public func write(to path: String, format: Format) throws(BirderIOError) {
        switch format {
        case .pt:
            var entries: [(String, PickleValue)] = [
                ("state", state.pickleValue),
                ("birder_version", birderVersion.map { .string($0) } ?? .none),
                ("task", task.map { .string($0) } ?? .none),
                ("signature", PickleValue(json: signature.json)),
                ("class_to_idx", PickleValue(json: classToIdxJSON)),
                ("rgb_stats", PickleValue(json: rgbStats.json)),
            ]
            if let configJSON { entries.append(("config", PickleValue(json: configJSON))) }
            try TorchFile.write(.dict(PickleDict(entries)), to: path)
        case .safetensors:
            var metadata = [
                "signature": signature.json.serialized(),
                "class_to_idx": classToIdxJSON.serialized(),
                "rgb_stats": rgbStats.json.serialized(),
            ]
            if let birderVersion { metadata["birder_version"] = birderVersion }
            if let task { metadata["task"] = task }
            if let configJSON { metadata["config"] = configJSON.serialized() }
            try Safetensors.write(state, metadata: metadata, to: path)
        }
    }
}

/// The encoder whose embeddings a head was trained on, as `birder probe train` records it in the
/// head file (`"encoder": {"network": …, "checkpoint_sha256": …}`; Birder's own heads have none).
public struct HeadEncoder: Sendable, Equatable, CustomStringConvertible {
    /// Birder's network name, e.g. `rdnet_t`.
    public let network: String
    /// SHA-256 of the checkpoint file, lower-case hex.
    public let checkpointSHA256: String

    public init(network: String, checkpointSHA256: String) {
        self.network = network
        self.checkpointSHA256 = checkpointSHA256
    }

    public var description: String { "\(network) (checkpoint sha256 \(checkpointSHA256.prefix(12))…)" }
}

/// A linear-probe head file (`*.head.pt`, Birder's `convert_model --head-only`):
/// `{"state": {"weight": [N, D], "bias": [N]}, "birder_version", "class_to_idx"}`, and the
/// `encoder` it was trained on when `birder probe train` wrote it.
public struct Head: Sendable {
    /// [N, D]
    public let weight: Tensor
    /// [N]
    public let bias: Tensor
    /// Class names by index.
    public let classNames: [String]
    public let birderVersion: String?
    /// The encoder whose embeddings it was trained on, when the file records it.
    public let encoder: HeadEncoder?

    public var numClasses: Int { weight.shape[0] }
    public var inputDimension: Int { weight.shape[1] }

    public init(weight: Tensor, bias: Tensor, classNames: [String], birderVersion: String? = nil, encoder: HeadEncoder? = nil) {
        precondition(weight.rank == 2 && bias.shape == [weight.shape[0]] && classNames.count == weight.shape[0],
                     "Head: weight \(weight.shape), bias \(bias.shape) and \(classNames.count) classes disagree")
        self.weight = weight
        self.bias = bias
        self.classNames = classNames
        self.birderVersion = birderVersion
        self.encoder = encoder
    }

    public static func load(_ path: String) throws(BirderIOError) -> Head {
        try Head(path: path, pickle: try TorchFile.load(path))
    }

    init(path: String, pickle top: PickleValue) throws(BirderIOError) {
        guard let dict = top.dictValue, let stateDict = dict["state"]?.dictValue else {
            throw .invalidContent(path: path, reason: "not a head file (no 'state' dict)")
        }
        let state = try StateDict(path: path, pickle: stateDict)
        guard let weight = state["weight"], let bias = state["bias"] else {
            let shown = state.names.prefix(5).map { "'\($0)'" }.joined(separator: ", ")
            throw .invalidContent(path: path, reason:
                "head state needs 'weight' and 'bias', has \(state.count == 0 ? "no tensors" : shown + (state.count > 5 ? ", … (\(state.count) tensors)" : ""))")
        }
        guard weight.dtype.isFloatingPoint, bias.dtype.isFloatingPoint else {
            throw .invalidContent(path: path, reason: "head weight/bias are not floating point")
        }
        guard weight.shape.count == 2, bias.shape == [weight.shape[0]] else {
            throw .invalidContent(path: path, reason: "head weight \(weight.shape) and bias \(bias.shape) do not agree (want [N, D] and [N])")
        }
        // Zero classes would leave softmax and top-k with nothing (a division by zero, an empty
        // prediction); a zero-wide head cannot take any model's embeddings.
        guard weight.shape[0] > 0, weight.shape[1] > 0 else {
            throw .invalidContent(path: path, reason: "head weight \(weight.shape) has no \(weight.shape[0] == 0 ? "classes" : "inputs"); a head needs at least one of each")
        }
        let names = try BirderIO.classNames(from: try classToIdxPairs(dict["class_to_idx"], path: path), path: path)
        guard names.count == weight.shape[0] else {
            throw .invalidContent(path: path, reason: "head has \(weight.shape[0]) outputs but class_to_idx has \(names.count) classes")
        }
        self.weight = weight.float32Tensor()
        self.bias = bias.float32Tensor()
        classNames = names
        birderVersion = dict["birder_version"]?.stringValue
        encoder = try Self.encoderRecord(dict["encoder"], path: path)
    }

    /// The `encoder` entry: absent or None for Birder's own heads.
    private static func encoderRecord(_ record: PickleValue?, path: String) throws(BirderIOError) -> HeadEncoder? {
        guard let record else { return nil }
        if case .none = record { return nil }
        guard let fields = record.dictValue, let network = fields["network"]?.stringValue,
              let digest = fields["checkpoint_sha256"]?.stringValue,
              digest.count == 64, digest.allSatisfy({ $0.isHexDigit && !$0.isUppercase }), !network.isEmpty else {
            throw .invalidContent(path: path, reason: "its 'encoder' record needs a network name and a checkpoint_sha256 of 64 hex digits")
        }
        return HeadEncoder(network: network, checkpointSHA256: digest)
    }

    public func write(to path: String) throws(BirderIOError) {
        let state = StateDict(float32: [("weight", weight), ("bias", bias)])
        let entries: [(String, PickleValue)] = [
            ("state", state.pickleValue),
            ("birder_version", birderVersion.map { .string($0) } ?? .none),
            ("class_to_idx", .dict(PickleDict(classNames.enumerated().map { ($1, PickleValue.int($0)) }))),
        ] + (encoder.map { encoder in
            [("encoder", PickleValue.dict(PickleDict([("network", .string(encoder.network)),
                                                      ("checkpoint_sha256", .string(encoder.checkpointSHA256))])))]
        } ?? [])
        try TorchFile.write(.dict(PickleDict(entries)), to: path)
    }
}
