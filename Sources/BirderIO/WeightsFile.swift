import BirderCore

/// Any weights file Birder uses, recognised by content: a model checkpoint, a linear-probe head,
/// or a bare state dict (`.pt` or `.safetensors`).
public enum WeightsFile: Sendable {
    case checkpoint(Checkpoint, Checkpoint.Format)
    case head(Head)
    case stateDict(StateDict, Checkpoint.Format)

    public static func open(_ path: String) throws(BirderIOError) -> WeightsFile {
        try open(try read(path))
    }

    /// The file's bytes, refused early when its first bytes are neither ZIP nor safetensors.
    static func read(_ path: String) throws(BirderIOError) -> FileContents {
        try FileContents(path: path) { (prefix, size) throws(BirderIOError) in
            if isSafetensors(path: path, prefix: prefix, size: size) {
                try Safetensors.checkHeaderLength(prefix, size: size, path: path)
            } else {
                try TorchFile.checkSignature(prefix, path: path)
            }
        }
    }

    /// By name first, so a damaged .safetensors reports safetensors errors; by content otherwise.
    private static func isSafetensors(path: String, prefix: UnsafeRawBufferPointer, size: Int) -> Bool {
        path.hasSuffix(".safetensors") || (!ZipArchive.isZip(prefix) && Safetensors.looksLikeSafetensors(prefix, size: size))
    }

    static func open(_ file: FileContents) throws(BirderIOError) -> WeightsFile {
        let path = file.path
        if isSafetensors(path: path, prefix: file.bytes, size: file.count) {
            let st = try Safetensors.load(file)
            if st.metadata["signature"] != nil {
                return .checkpoint(try Checkpoint(path: path, safetensors: st), .safetensors)
            }
            return .stateDict(st.tensors, .safetensors)
        }
        let top = try TorchFile.load(file)
        guard let dict = top.dictValue else { throw .invalidContent(path: path, reason: "top-level object is not a dict") }
        if dict["state"] != nil {
            if dict["signature"] != nil { return .checkpoint(try Checkpoint(path: path, pickle: top), .pt) }
            if dict["class_to_idx"] != nil { return .head(try Head(path: path, pickle: top)) }
            guard let state = dict["state"]?.dictValue else { throw .invalidContent(path: path, reason: "'state' is not a dict") }
            return .stateDict(try StateDict(path: path, pickle: state), .pt)
        }
        return .stateDict(try StateDict(path: path, pickle: dict), .pt)
    }
}

/// What `birder info` reports about a weights file.
public struct WeightsFileSummary: Sendable {
    public var path: String
    public var kind: String
    public var format: String
    /// The network part of the file name (`rdnet_t_ibot-bioscan5m.pt` → `rdnet_t`).
    public var networkFromFileName: String?
    /// The family the tensor names look like (`rdnet`, `vit`), when recognised.
    public var familyFromTensorNames: String?
    public var inputSize: [Int]?
    public var inputChannels: Int?
    public var numClasses: Int?
    public var embeddingSize: Int?
    public var rgbStats: RGBStats?
    public var birderVersion: String?
    public var task: String?
    public var config: [String: ConfigValue]?
    public var numTensors: Int
    public var numParameters: Int
    public var tensorBytes: Int
    public var fileBytes: Int
    /// Tensor counts per dtype.
    public var dtypes: [String: Int]

    public static func inspect(_ path: String) throws(BirderIOError) -> WeightsFileSummary {
        let file = try WeightsFile.read(path)
        let fileBytes = file.count
        let opened = try WeightsFile.open(file)
        let state: StateDict
        var summary: WeightsFileSummary
        switch opened {
        case .checkpoint(let c, let format):
            state = c.state
            summary = WeightsFileSummary(path: path, kind: "checkpoint", format: format.rawValue, state: state, fileBytes: fileBytes)
            summary.inputSize = c.signature.inputSize
            summary.inputChannels = c.signature.inputChannels
            summary.numClasses = c.signature.numClasses
            summary.rgbStats = c.rgbStats
            summary.birderVersion = c.birderVersion
            summary.task = c.task
            summary.config = c.config
            if let classifier = state["classifier.weight"], classifier.shape.count == 2 { summary.embeddingSize = classifier.shape[1] }
        case .head(let h):
            state = StateDict(float32: [("weight", h.weight), ("bias", h.bias)])
            summary = WeightsFileSummary(path: path, kind: "head", format: "pt", state: state, fileBytes: fileBytes)
            summary.numClasses = h.numClasses
            summary.embeddingSize = h.inputDimension
            summary.birderVersion = h.birderVersion
        case .stateDict(let s, let format):
            state = s
            summary = WeightsFileSummary(path: path, kind: "state dict", format: format.rawValue, state: state, fileBytes: fileBytes)
        }
        return summary
    }

    private init(path: String, kind: String, format: String, state: StateDict, fileBytes: Int) {
        self.path = path
        self.kind = kind
        self.format = format
        networkFromFileName = Self.networkName(fromFileName: path)
        familyFromTensorNames = Self.family(of: state.names)
        numTensors = state.count
        numParameters = state.parameterCount
        tensorBytes = state.byteCount
        self.fileBytes = fileBytes
        var dtypes: [String: Int] = [:]
        for (_, tensor) in state.entries { dtypes[tensor.dtype.rawValue, default: 0] += 1 }
        self.dtypes = dtypes
    }

    /// Birder names files `<network>_<tag>[_<epoch>]`, tags containing a hyphen
    /// (`rdnet_t_ibot-bioscan5m`, `vit_b16_pn_bioclip-v1`, `…-order.head.pt`).
    public static func networkName(fromFileName path: String) -> String? {
        var base = Substring(path.split(separator: "/").last ?? "")
        for suffix in [".head.pt", ".safetensors", ".pt", ".pth"] where base.hasSuffix(suffix) {
            base = base.dropLast(suffix.count)
            break
        }
        var parts = base.split(separator: "_", omittingEmptySubsequences: false)
        if let tagIndex = parts.firstIndex(where: { $0.contains("-") }) {
            parts = Array(parts[..<tagIndex])
        } else if let last = parts.last, !last.isEmpty, last.allSatisfy(\.isNumber) {
            parts.removeLast()
        }
        let name = parts.joined(separator: "_")
        return name.isEmpty ? nil : name
    }

    /// Recognises the families this project implements from characteristic tensor names.
    public static func family(of names: [String]) -> String? {
        let set = Set(names)
        if set.contains("conv_proj.weight"), set.contains("pos_embedding"), names.contains(where: { $0.hasPrefix("encoder.block.") }) {
            return "vit"
        }
        if set.contains("stem.0.weight"),
           names.contains(where: { $0.hasPrefix("body.stage") && $0.contains(".layers.") && $0.hasSuffix(".gamma") }) {
            return "rdnet"
        }
        return nil
    }

    public var json: JSONValue {
        var members: [JSONMember] = [
            JSONMember("path", .string(path)),
            JSONMember("kind", .string(kind)),
            JSONMember("format", .string(format)),
            JSONMember("network", networkFromFileName.map { .string($0) } ?? .null),
            JSONMember("family", familyFromTensorNames.map { .string($0) } ?? .null),
            JSONMember("input_size", inputSize.map { .array($0.map { .int($0) }) } ?? .null),
            JSONMember("input_channels", inputChannels.map { .int($0) } ?? .null),
            JSONMember("num_classes", numClasses.map { .int($0) } ?? .null),
            JSONMember("embedding_size", embeddingSize.map { .int($0) } ?? .null),
            JSONMember("rgb_stats", rgbStats?.json ?? .null),
            JSONMember("birder_version", birderVersion.map { .string($0) } ?? .null),
            JSONMember("task", task.map { .string($0) } ?? .null),
        ]
        if let config { members.append(JSONMember("config", ConfigValue.dictionary(config).json)) }
        members += [
            JSONMember("tensors", .int(numTensors)),
            JSONMember("num_parameters", .int(numParameters)),
            JSONMember("tensor_bytes", .int(tensorBytes)),
            JSONMember("file_bytes", .int(fileBytes)),
            JSONMember("dtypes", .object(dtypes.keys.sorted().map { JSONMember($0, .int(dtypes[$0]!)) })),
        ]
        return .object(members)
    }

    public var text: String {
        func show(_ value: Double) -> String { JSONValue.formatDouble(value) }
        var lines: [String] = []
        lines.append("file:            \(path) (\(kind), \(format), \(fileBytes) bytes)")
        lines.append("network:         \(networkFromFileName ?? "?") (from the file name)"
            + (familyFromTensorNames.map { "; tensor names look like \($0)" } ?? "; tensor names match no known family"))
        if let inputSize {
            lines.append("input size:      \(inputSize[0])×\(inputSize[1])" + (inputChannels.map { ", \($0) channels" } ?? ""))
        }
        if let numClasses { lines.append("classes:         \(numClasses)") }
        if let embeddingSize { lines.append("embedding size:  \(embeddingSize)") }
        if let rgbStats {
            lines.append("rgb stats:       mean [\(rgbStats.mean.map(show).joined(separator: ", "))], std [\(rgbStats.std.map(show).joined(separator: ", "))]")
        }
        if let birderVersion { lines.append("birder version:  \(birderVersion)") }
        if let task { lines.append("task:            \(task)") }
        if let config { lines.append("config:          \(ConfigValue.dictionary(config).json.serialized())") }
        lines.append("tensors:         \(numTensors) (" + dtypes.keys.sorted().map { "\(dtypes[$0]!) \($0)" }.joined(separator: ", ") + ")")
        lines.append("parameters:      \(numParameters)" + (numParameters >= 100_000 ? " (\(Self.millions(numParameters)))" : ""))
        lines.append("tensor bytes:    \(tensorBytes)")
        return lines.joined(separator: "\n")
    }

    static func millions(_ n: Int) -> String {
        let tenths = (n + 50_000) / 100_000
        return "\(tenths / 10).\(tenths % 10) M"
    }
}
