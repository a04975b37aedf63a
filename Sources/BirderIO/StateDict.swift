import BirderCore

/// Named tensors in file order: a checkpoint's `state`, a safetensors file's tensors. Models read
/// it through `ParameterSource`; Float32 tensors borrow the file's bytes where they can.
public struct StateDict: ParameterSource, Sendable {
    /// The file the tensors came from (for error messages); "<memory>" for dicts made in code.
    public let path: String
    public let names: [String]
    private let tensors: [String: StoredTensor]

    /// Names must be unique (a programmer error otherwise; the readers reject duplicates first).
    public init(path: String = "<memory>", _ entries: [(String, StoredTensor)]) {
        var tensors: [String: StoredTensor] = [:]
        for (name, tensor) in entries {
            precondition(tensors.updateValue(tensor, forKey: name) == nil, "StateDict: duplicate tensor name '\(name)'")
        }
        self.path = path
        names = entries.map(\.0)
        self.tensors = tensors
    }

    /// Float32 tensors made in code (shared, not copied).
    public init(float32 entries: [(String, Tensor)]) {
        self.init(entries.map { ($0.0, StoredTensor($0.1)) })
    }

    /// The tensors of a pickled dict (a checkpoint's `state`); every value must be a tensor.
    init(path: String, pickle dict: PickleDict) throws(BirderIOError) {
        var entries: [(String, StoredTensor)] = []
        var seen = Set<String>()
        for entry in dict.entries {
            guard case .string(let name) = entry.key else {
                throw .invalidContent(path: path, reason: "state dict key \(entry.key) is not a string")
            }
            guard case .tensor(let tensor) = entry.value else {
                throw .invalidContent(path: path, reason: "state dict entry '\(name)' is not a tensor")
            }
            guard seen.insert(name).inserted else { throw .invalidContent(path: path, reason: "duplicate tensor '\(name)'") }
            entries.append((name, tensor))
        }
        self.init(path: path, entries)
    }

    public subscript(name: String) -> StoredTensor? { tensors[name] }

    public var count: Int { names.count }

    /// The entries in file order.
    public var entries: [(name: String, tensor: StoredTensor)] { names.map { ($0, tensors[$0]!) } }

    /// Sum of the element counts of all tensors (buffers included, as `state_dict()` holds them).
    public var parameterCount: Int { tensors.values.reduce(0) { $0 + $1.elementCount } }

    /// Bytes the tensors' elements take in their stored dtypes.
    public var byteCount: Int { tensors.values.reduce(0) { $0 + $1.byteCount } }

    /// The pickled form torch writes for `module.state_dict()`: an OrderedDict of tensors.
    package var pickleValue: PickleValue {
        .dict(PickleDict(entries.map { ($0.name, PickleValue.tensor($0.tensor)) }, kind: .orderedDict))
    }

    // MARK: ParameterSource

    public var parameterNames: [String] { names }

    public func shape(of name: String) -> [Int]? { tensors[name]?.shape }

    /// Any dtype converts (float16/bfloat16 exactly, float64 rounded, integers by value).
    public func float32Tensor(named name: String) throws(BirderIOError) -> Tensor {
        guard let tensor = tensors[name] else { throw .missingTensor(path: path, name: name) }
        return tensor.float32Tensor()
    }
}
