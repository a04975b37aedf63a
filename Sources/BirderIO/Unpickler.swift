/// What a pickle's persistent id asks for: storage `key` of `dtype` holding `count` elements.
struct StorageRequest {
    let key: String
    let dtype: DType
    let count: Int
}

/// A restricted unpickler accepting what `torch.load(weights_only=True)` accepts (torch's
/// `_weights_only_unpickler.py`): the protocol-2 opcodes listed there, and GLOBALs only from its
/// allow-list. It never calls anything: every allowed global is interpreted here into plain
/// values. Containers live in an arena addressed by index, so shared and self-referencing
/// structures keep Python's reference semantics without recursive Swift objects.
struct Unpickler {
    let path: String
    private var reader: ByteReader
    private let loadStorage: (StorageRequest) throws(BirderIOError) -> StorageBuffer

    private enum Node {
        case value(PickleValue)
        case container(Int)
        case callable(String)
        case storage(StorageBuffer)
    }

    private enum ContainerKind: Equatable {
        case list, tuple, set
        case dict(PickleDict.Kind)
    }

    private struct Container {
        var kind: ContainerKind
        var items: [Node]  // dicts: key, value, key, value …
    }

    private var arena: [Container] = []
    private var stack: [Node] = []
    private var marks: [Int] = []
    private var memo: [UInt32: Node] = [:]
    /// Elements the pickle may expand to. Memo references let a few bytes name a whole earlier
    /// structure, so nested sharing ("billion laughs") describes a tree exponentially larger than
    /// the file; every consumer of the result (`jsonValue`, config and class readers) walks that
    /// tree. Charged for every element the result holds counting each reference to a shared part
    /// in full, and for every container copied while loading, so whatever walks the result is
    /// bounded too. Real checkpoints need about one element per opcode.
    private var elementBudget: Int
    let elementLimit: Int
    private static let maxDepth = 100
    static let maxExpandedElements = 1 << 24
    /// Elements that views repeating storage elements (stride 0) may add, over all tensors.
    private var repeatedElementBudget = Unpickler.maxExpandedElements

    init(path: String, bytes: UnsafeRawBufferPointer,
         loadStorage: @escaping (StorageRequest) throws(BirderIOError) -> StorageBuffer) {
        self.path = path
        reader = ByteReader(bytes)
        self.loadStorage = loadStorage
        elementLimit = Self.elementLimit(pickleBytes: bytes.count)
        elementBudget = elementLimit
    }

    static func elementLimit(pickleBytes: Int) -> Int { (1 << 20) + 4 * pickleBytes }

    /// A string or bytes value counts one element per 16 bytes beyond the first.
    private static func cost(_ value: PickleValue) -> Int {
        switch value {
        case .string(let s): 1 + s.utf8.count / 16
        case .bytes(let b): 1 + b.count / 16
        case .object(_, let args): args.reduce(1) { $0 + cost($1) }
        default: 1
        }
    }

    private mutating func charge(_ elements: Int) throws(BirderIOError) {
        elementBudget -= min(elements, elementBudget + 1)
        guard elementBudget >= 0 else {
            throw fail("its shared references expand to more than \(elementLimit) elements, far beyond any real checkpoint (nested references to one structure, a \"billion laughs\" pickle)")
        }
    }

    private func fail(_ reason: String) -> BirderIOError { .invalidPickle(path: path, reason: reason) }

    // MARK: - Allow-list (torch/_weights_only_unpickler.py, `_get_allowed_globals`)

    static let blockedModules: Set<String> = ["sys", "os", "posix", "nt"]

    static let storageClassNames = [
        "BFloat16Storage", "BoolStorage", "ByteStorage", "CharStorage", "ComplexDoubleStorage", "ComplexFloatStorage",
        "DoubleStorage", "FloatStorage", "HalfStorage", "IntStorage", "LongStorage", "ShortStorage",
    ]

    static let allowedGlobals: Set<String> = {
        var names: Set<String> = [
            "collections.OrderedDict", "collections.Counter", "torch.nn.parameter.Parameter",
            "torch.serialization._get_layout", "torch.Size", "torch.Tensor", "torch.device", "_codecs.encode",
            "builtins.bytearray", "builtins.set", "builtins.complex", "torch._tensor._rebuild_from_type_v2",
            "torch.storage.TypedStorage", "torch.storage.UntypedStorage",
            "torch.per_tensor_affine", "torch.per_tensor_symmetric", "torch.per_channel_affine",
            "torch.per_channel_symmetric", "torch.per_channel_affine_float_qparams",
        ]
        for f in ["_rebuild_parameter", "_rebuild_parameter_with_state", "_rebuild_qtensor", "_rebuild_tensor",
                  "_rebuild_tensor_v2", "_rebuild_tensor_v3", "_rebuild_sparse_tensor", "_rebuild_meta_tensor_no_storage",
                  "_rebuild_nested_tensor", "_rebuild_wrapper_subclass", "_rebuild_device_tensor_from_numpy",
                  "_rebuild_device_tensor_from_cpu_tensor"] {
            names.insert("torch._utils.\(f)")
        }
        let dtypes = ["bcomplex32", "bfloat16", "bits16", "bits1x8", "bits2x4", "bits4x2", "bits8", "bool", "complex128",
                      "complex32", "complex64", "float16", "float32", "float4_e2m1fn_x2", "float64", "float8_e4m3fn",
                      "float8_e4m3fnuz", "float8_e5m2", "float8_e5m2fnuz", "float8_e8m0fnu", "int16", "int32", "int64",
                      "int8", "qint32", "qint8", "quint2x4", "quint4x2", "quint8", "uint16", "uint32", "uint64", "uint8"]
        for d in dtypes { names.insert("torch.\(d)") }
        for bits in 1...7 { names.insert("torch.int\(bits)"); names.insert("torch.uint\(bits)") }
        for s in storageClassNames { names.insert("torch.\(s)") }
        for s in ["QInt32Storage", "QInt8Storage", "QUInt2x4Storage", "QUInt4x2Storage", "QUInt8Storage"] {
            names.insert("torch.\(s)")
        }
        for s in storageClassNames where !s.hasPrefix("Complex") { names.insert("torch.cuda.\(s)") }
        names.insert("torch.cuda.ComplexDoubleStorage")
        names.insert("torch.cuda.ComplexFloatStorage")
        let tensorKinds = ["BFloat16", "Bool", "Byte", "Char", "Double", "Float", "Half", "Int", "Long", "Short"]
        for t in tensorKinds {
            names.insert("torch.\(t)Tensor")
            names.insert("torch.cuda.\(t)Tensor")
            if t != "Bool" {
                names.insert("torch.sparse.\(t)Tensor")
                names.insert("torch.cuda.sparse.\(t)Tensor")
            }
        }
        return names
    }()

    /// Python 2 module names pickle maps on load (`torch._utils.IMPORT_MAPPING`, the part that
    /// can reach an allowed global).
    private static let importMapping = ["__builtin__": "builtins", "copy_reg": "copyreg", "UserDict": "collections"]

    // MARK: - Loading

    mutating func load() throws(BirderIOError) -> PickleValue {
        do {
            while true {
                let opcode = try reader.u8()
                switch opcode {
                case 0x80:  // PROTO
                    let version = try reader.u8()
                    guard version <= 5 else { throw fail("unknown pickle protocol \(version)") }
                case 0x2E:  // STOP
                    guard let top = stack.popLast() else { throw fail("STOP with an empty stack") }
                    var cache: [Int: (value: PickleValue, elements: Int)] = [:]
                    var inProgress = Set<Int>()
                    return try convert(top, depth: 0, cache: &cache, inProgress: &inProgress).value
                case 0x63:  // GLOBAL
                    try global()
                case 0x52:  // REDUCE
                    let args = try pop()
                    let function = try pop()
                    stack.append(try reduce(function, args))
                case 0x81:  // NEWOBJ
                    let args = try pop()
                    let cls = try pop()
                    stack.append(try newObject(cls, args))
                case 0x62:  // BUILD
                    let state = try pop()
                    try build(try top(), state)
                case 0x28:  // MARK
                    marks.append(stack.count)
                case 0x61:  // APPEND
                    let item = try pop()
                    try append(to: try top(), [item])
                case 0x65:  // APPENDS
                    let items = try popMark()
                    try append(to: try top(), items)
                case 0x73:  // SETITEM
                    let value = try pop()
                    let key = try pop()
                    try setItems(in: try top(), [key, value])
                case 0x75:  // SETITEMS
                    let items = try popMark()
                    guard items.count % 2 == 0 else { throw fail("SETITEMS with an odd number of items") }
                    try setItems(in: try top(), items)
                case 0x74:  // TUPLE
                    stack.append(newContainer(.tuple, try popMark()))
                case 0x85, 0x86, 0x87:  // TUPLE1, TUPLE2, TUPLE3
                    let n = Int(opcode - 0x84)
                    guard stack.count - (marks.last ?? 0) >= n else { throw fail("TUPLE\(n) with too few items on the stack") }
                    let items = Array(stack.suffix(n))
                    stack.removeLast(n)
                    stack.append(newContainer(.tuple, items))
                case 0x4E: stack.append(.value(.none))  // NONE
                case 0x88: stack.append(.value(.bool(true)))  // NEWTRUE
                case 0x89: stack.append(.value(.bool(false)))  // NEWFALSE
                case 0x29: stack.append(newContainer(.tuple, []))  // EMPTY_TUPLE
                case 0x5D: stack.append(newContainer(.list, []))  // EMPTY_LIST
                case 0x7D: stack.append(newContainer(.dict(.dict), []))  // EMPTY_DICT
                case 0x8F: stack.append(newContainer(.set, []))  // EMPTY_SET
                case 0x4A: stack.append(.value(.int(Int(try reader.i32()))))  // BININT
                case 0x4B: stack.append(.value(.int(Int(try reader.u8()))))  // BININT1
                case 0x4D: stack.append(.value(.int(Int(try reader.u16()))))  // BININT2
                case 0x47: stack.append(.value(.float(try reader.f64BigEndian())))  // BINFLOAT
                case 0x8A:  // LONG1
                    let n = Int(try reader.u8())
                    let data = try reader.slice(n)
                    stack.append(.value(.int(try decodeLong(data))))
                case 0x58:  // BINUNICODE
                    let length = Int(try reader.u32())
                    let data = try reader.slice(length)
                    stack.append(.value(.string(String(decoding: data, as: UTF8.self))))
                case 0x55:  // SHORT_BINSTRING (decoded as ASCII, torch.load's default encoding)
                    let length = Int(try reader.u8())
                    let data = try reader.slice(length)
                    guard data.allSatisfy({ $0 < 0x80 }) else { throw fail("SHORT_BINSTRING is not ASCII") }
                    stack.append(.value(.string(String(decoding: data, as: UTF8.self))))
                case 0x51:  // BINPERSID
                    stack.append(try persistentLoad(try pop()))
                case 0x68:  // BINGET
                    stack.append(try memoGet(UInt32(try reader.u8())))
                case 0x6A:  // LONG_BINGET
                    stack.append(try memoGet(try reader.u32()))
                case 0x71:  // BINPUT
                    memo[UInt32(try reader.u8())] = try top()
                case 0x72:  // LONG_BINPUT
                    memo[try reader.u32()] = try top()
                default:
                    throw fail("opcode 0x\(String(opcode, radix: 16)) at byte \(reader.position - 1) is not allowed in a weights-only load")
                }
            }
        } catch is ByteReader.Truncated {
            throw fail("truncated stream")
        } catch let error as BirderIOError {
            throw error
        } catch {
            throw fail("\(error)")
        }
    }

    // MARK: - Stack

    private mutating func pop() throws(BirderIOError) -> Node {
        guard stack.count > (marks.last ?? 0), let node = stack.popLast() else { throw fail("stack underflow") }
        return node
    }

    private func top() throws(BirderIOError) -> Node {
        guard stack.count > (marks.last ?? 0), let node = stack.last else { throw fail("stack underflow") }
        return node
    }

    private mutating func popMark() throws(BirderIOError) -> [Node] {
        guard let mark = marks.popLast() else { throw fail("no MARK on the stack") }
        let items = Array(stack[mark...])
        stack.removeSubrange(mark...)
        return items
    }

    private func memoGet(_ index: UInt32) throws(BirderIOError) -> Node {
        guard let node = memo[index] else { throw fail("memo entry \(index) does not exist") }
        return node
    }

    private mutating func newContainer(_ kind: ContainerKind, _ items: [Node]) -> Node {
        arena.append(Container(kind: kind, items: items))
        return .container(arena.count - 1)
    }

    private func decodeLong(_ data: UnsafeRawBufferPointer) throws(BirderIOError) -> Int {
        if data.isEmpty { return 0 }
        guard data.count <= 8 else { throw .unsupported(path: path, reason: "pickled integer wider than 64 bits") }
        var value: UInt64 = 0
        for (i, byte) in data.enumerated() { value |= UInt64(byte) << (8 * UInt64(i)) }
        if data.count < 8, data[data.count - 1] & 0x80 != 0 {
            value |= ~UInt64(0) << (8 * UInt64(data.count))  // sign-extend
        }
        return Int(Int64(bitPattern: value))
    }

    // MARK: - Opcodes with meaning

    private mutating func global() throws(BirderIOError) {
        var module: String
        let name: String
        do {
            module = String(decoding: try reader.line(maxLength: 512), as: UTF8.self)
            name = String(decoding: try reader.line(maxLength: 512), as: UTF8.self)
        } catch {
            throw fail("truncated GLOBAL")
        }
        module = Self.importMapping[module] ?? module
        let full = "\(module).\(name)"
        guard !Self.blockedModules.contains(module), Self.allowedGlobals.contains(full) else {
            throw .forbiddenGlobal(path: path, global: full)
        }
        stack.append(.callable(full))
    }

    private mutating func persistentLoad(_ pid: Node) throws(BirderIOError) -> Node {
        guard case .container(let index) = pid, arena[index].kind == .tuple else {
            throw fail("persistent id is not a tuple")
        }
        let items = arena[index].items
        guard items.count == 5, let typename = asString(items[0], allowBytes: true), typename == "storage" else {
            throw fail("only persistent ids of the form ('storage', type, key, location, numel) are allowed")
        }
        guard case .callable(let storageType) = items[1] else { throw fail("persistent id storage type is not a class") }
        guard let key = asString(items[2], allowBytes: true), !key.isEmpty,
              asString(items[3], allowBytes: true) != nil,
              case .value(.int(let numel)) = items[4], numel >= 0 else {
            throw fail("malformed storage persistent id")
        }
        let dtype: DType
        if storageType == "torch.storage.UntypedStorage" {
            dtype = .uint8
        } else {
            let shortName = storageType.split(separator: ".").last.map(String.init) ?? ""
            let isStorageClass = storageType == "torch.\(shortName)" || storageType == "torch.cuda.\(shortName)"
            guard isStorageClass, let d = DType(torchStorageName: shortName) else {
                throw .unsupported(path: path, reason: "storage type \(storageType)")
            }
            dtype = d
        }
        do {
            return .storage(try loadStorage(StorageRequest(key: key, dtype: dtype, count: numel)))
        } catch .invalidTensor(let path, _, let reason) {
            throw .invalidTensor(path: path, name: currentTensorName(), reason: "storage '\(key)': \(reason)")
        }
    }

    /// The dict key the tensor being rebuilt will be stored under, for error messages: the string
    /// just below the innermost rebuild call on the stack (or on top, once REDUCE popped it).
    private func currentTensorName() -> String {
        for i in stride(from: stack.count - 1, through: 1, by: -1) {
            if case .callable(let name) = stack[i], name.hasPrefix("torch._utils._rebuild") || name.hasPrefix("torch._tensor."),
               case .value(.string(let key)) = stack[i - 1] {
                return key
            }
        }
        if case .value(.string(let key))? = stack.last { return key }
        return "(unnamed)"
    }

    private mutating func append(to target: Node, _ items: [Node]) throws(BirderIOError) {
        guard case .container(let index) = target, arena[index].kind == .list else {
            throw fail("can only append to lists")
        }
        arena[index].items.append(contentsOf: items)
    }

    private mutating func setItems(in target: Node, _ items: [Node]) throws(BirderIOError) {
        guard case .container(let index) = target, case .dict = arena[index].kind else {
            throw fail("can only set items on dict, OrderedDict or Counter")
        }
        for k in stride(from: 0, to: items.count, by: 2) {
            if case .container(let keyIndex) = items[k], arena[keyIndex].kind != .tuple {
                throw fail("unhashable dict key")
            }
        }
        arena[index].items.append(contentsOf: items)
    }

    private mutating func build(_ instance: Node, _ state: Node) throws(BirderIOError) {
        switch instance {
        case .container(let index):
            // OrderedDict attributes (a state dict's `_metadata`) carry nothing the weights need.
            guard case .dict = arena[index].kind else { throw fail("BUILD on a \(arena[index].kind) is not allowed") }
        case .value(.tensor):
            break  // Parameter / tensor subclass state: Python attributes only.
        default:
            throw fail("BUILD is only allowed on tensors, Parameters and OrderedDicts")
        }
        _ = state
    }

    private mutating func newObject(_ cls: Node, _ args: Node) throws(BirderIOError) -> Node {
        guard case .callable(let name) = cls else { throw fail("NEWOBJ on something that is not a class") }
        let arguments = try items(of: args, what: "NEWOBJ arguments")
        switch name {
        case "torch.nn.parameter.Parameter":
            guard let first = arguments.first, case .value(.tensor) = first else {
                throw .unsupported(path: path, reason: "Parameter without tensor data")
            }
            return first
        case "collections.OrderedDict": return newContainer(.dict(.orderedDict), [])
        case "collections.Counter": return newContainer(.dict(.counter), [])
        case "builtins.set": return newContainer(.set, [])
        default:
            throw .unsupported(path: path, reason: "creating \(name) objects")
        }
    }

    private mutating func reduce(_ function: Node, _ args: Node) throws(BirderIOError) -> Node {
        guard case .callable(let name) = function else { throw fail("REDUCE on something that is not callable") }
        return try call(name, try items(of: args, what: "arguments of \(name)"))
    }

    private mutating func call(_ name: String, _ args: [Node]) throws(BirderIOError) -> Node {
        switch name {
        case "torch._utils._rebuild_tensor_v2", "torch._utils._rebuild_tensor", "torch._utils._rebuild_tensor_v3":
            return .value(.tensor(try rebuildTensor(name, args)))
        case "torch._utils._rebuild_parameter", "torch._utils._rebuild_parameter_with_state",
             "torch.nn.parameter.Parameter":
            guard let first = args.first, case .value(.tensor) = first else {
                throw fail("\(name) without tensor data")
            }
            return first
        case "torch._tensor._rebuild_from_type_v2":
            guard args.count == 4, case .callable(let inner) = args[0], case .callable(let newType) = args[1] else {
                throw fail("malformed _rebuild_from_type_v2 call")
            }
            guard newType == "torch.Tensor" || newType == "torch.nn.parameter.Parameter" else {
                throw .unsupported(path: path, reason: "tensor subclass \(newType)")
            }
            guard inner.hasPrefix("torch._utils._rebuild") else { throw fail("_rebuild_from_type_v2 of \(inner)") }
            return try call(inner, try items(of: args[2], what: "arguments of \(inner)"))
        case "collections.OrderedDict", "collections.Counter":
            let kind: PickleDict.Kind = name == "collections.Counter" ? .counter : .orderedDict
            guard let source = args.first else { return newContainer(.dict(kind), []) }
            guard args.count == 1, case .container(let index) = source else { throw fail("malformed \(name) call") }
            if case .dict = arena[index].kind {
                try charge(arena[index].items.count)
                return newContainer(.dict(kind), arena[index].items)
            }
            guard kind == .orderedDict else { throw .unsupported(path: path, reason: "Counter built from a sequence") }
            var items: [Node] = []
            try charge(2 * arena[index].items.count)
            for pair in arena[index].items {
                let kv = try self.items(of: pair, what: "OrderedDict item")
                guard kv.count == 2 else { throw fail("OrderedDict item is not a pair") }
                items += kv
            }
            return newContainer(.dict(kind), items)
        case "builtins.set":
            guard let source = args.first else { return newContainer(.set, []) }
            let contents = try items(of: source, what: "set contents")
            try charge(contents.count)
            return newContainer(.set, contents)
        case "torch.Size":
            guard args.count == 1 else { throw fail("malformed torch.Size call") }
            let dims = try items(of: args[0], what: "torch.Size dimensions")
            for dim in dims {
                guard case .value(.int) = dim else { throw fail("torch.Size of non-integers") }
            }
            try charge(dims.count)
            return newContainer(.tuple, dims)
        case "_codecs.encode", "builtins.bytearray":
            if name == "builtins.bytearray", args.isEmpty { return .value(.bytes([])) }
            if name == "builtins.bytearray", args.count == 1, case .value(.bytes(let b)) = args[0] { return .value(.bytes(b)) }
            guard args.count == 2, let text = asString(args[0], allowBytes: false),
                  let encoding = asString(args[1], allowBytes: false) else {
                throw fail("malformed \(name) call")
            }
            return .value(.bytes(try encode(text, encoding)))
        case "torch.device", "builtins.complex":
            // Scalars only (a device name and index, a real and imaginary part): an object's
            // arguments are not containers anyone walks.
            var values: [PickleValue] = []
            for arg in args {
                guard case .value(let value) = arg else { throw fail("malformed \(name) call") }
                switch value {
                case .none, .bool, .int, .float, .string: values.append(value)
                default: throw fail("malformed \(name) call")
                }
            }
            try charge(values.count)
            return .value(.object(name, values))
        case "torch.serialization._get_layout":
            guard args.count == 1, let layout = asString(args[0], allowBytes: false) else { throw fail("malformed _get_layout call") }
            return .value(.object(name, [.string(layout)]))
        default:
            if name.hasPrefix("torch._utils._rebuild") {
                throw .unsupported(path: path, reason: "tensor kind built by \(name) (sparse, quantized, nested, meta …)")
            }
            throw .unsupported(path: path, reason: "calling \(name)")
        }
    }

    private func encode(_ text: String, _ encoding: String) throws(BirderIOError) -> [UInt8] {
        switch encoding.lowercased() {
        case "latin1", "latin-1", "iso-8859-1", "iso8859-1", "l1":
            var bytes: [UInt8] = []
            bytes.reserveCapacity(text.unicodeScalars.count)
            for scalar in text.unicodeScalars {
                guard scalar.value <= 0xFF else { throw fail("character outside latin-1 in encoded bytes") }
                bytes.append(UInt8(scalar.value))
            }
            return bytes
        case "utf-8", "utf8":
            return Array(text.utf8)
        case "ascii":
            guard text.unicodeScalars.allSatisfy({ $0.value < 0x80 }) else { throw fail("non-ASCII character in encoded bytes") }
            return Array(text.utf8)
        default:
            throw .unsupported(path: path, reason: "bytes encoded as \(encoding)")
        }
    }

    private mutating func rebuildTensor(_ name: String, _ args: [Node]) throws(BirderIOError) -> StoredTensor {
        let isV3 = name.hasSuffix("_v3")
        let minimum = name.hasSuffix("_rebuild_tensor") ? 4 : (isV3 ? 7 : 6)
        guard args.count >= minimum, args.count <= minimum + 1 else {
            throw fail("\(name) with \(args.count) arguments")
        }
        guard case .storage(var storage) = args[0] else { throw fail("\(name) without a storage") }
        guard case .value(.int(let offset)) = args[1] else { throw fail("\(name): storage offset is not an integer") }
        let shape = try ints(args[2], what: "size")
        let strides = try ints(args[3], what: "stride")
        if isV3 {
            guard case .callable(let dtypeName) = args[6] else { throw fail("\(name): dtype is not a dtype") }
            let short = String(dtypeName.dropFirst("torch.".count))
            guard dtypeName.hasPrefix("torch."), let dtype = DType(torchName: short) else {
                throw .unsupported(path: path, reason: "tensor dtype \(dtypeName)")
            }
            if dtype != storage.dtype {
                guard storage.dtype == .uint8 else {
                    throw fail("\(name): dtype \(dtype) over a typed \(storage.dtype) storage")
                }
                storage = StorageBuffer(dtype: dtype, count: storage.count / dtype.byteSize, base: storage.base,
                                        isBigEndian: storage.isBigEndian, owner: storage)
            }
        }
        let metadataIndex = isV3 ? 7 : 6
        if args.count > metadataIndex, !name.hasSuffix("_rebuild_tensor"),
           case .container(let index) = args[metadataIndex] {
            let items = arena[index].items
            for k in stride(from: 0, to: items.count - 1, by: 2) {
                if case .value(.bool(true)) = items[k + 1] {
                    throw .unsupported(path: path, reason: "tensors with the conj/neg bit set")
                }
            }
        }
        let tensor: StoredTensor
        do {
            tensor = try StoredTensor(storage: storage, shape: shape, strides: strides, storageOffset: offset)
        } catch {
            throw .invalidTensor(path: path, name: currentTensorName(), reason: error.description)
        }
        // Views repeating elements (stride 0, overlaps) are legal, but converting one allocates its
        // full size: cap what a small storage can expand to.
        if tensor.elementCount > storage.count {
            guard tensor.elementCount <= repeatedElementBudget else {
                throw .unsupported(path: path, reason: tensor.elementCount > Self.maxExpandedElements
                    ? "tensor '\(currentTensorName())' is a view of \(tensor.elementCount) elements over a storage of \(storage.count) (more than \(Self.maxExpandedElements) repeated elements)"
                    : "tensor '\(currentTensorName())' is a view of \(tensor.elementCount) elements over a storage of \(storage.count): with the views before it, more than \(Self.maxExpandedElements) repeated elements")
            }
            repeatedElementBudget -= tensor.elementCount
        }
        return tensor
    }

    // MARK: - Reading nodes

    private func items(of node: Node, what: String) throws(BirderIOError) -> [Node] {
        guard case .container(let index) = node else { throw fail("\(what) are not a tuple or list") }
        switch arena[index].kind {
        case .tuple, .list: return arena[index].items
        default: throw fail("\(what) are not a tuple or list")
        }
    }

    private func ints(_ node: Node, what: String) throws(BirderIOError) -> [Int] {
        var result: [Int] = []
        for item in try items(of: node, what: "tensor \(what)") {
            guard case .value(.int(let v)) = item else { throw fail("tensor \(what) holds a non-integer") }
            result.append(v)
        }
        return result
    }

    private func asString(_ node: Node, allowBytes: Bool) -> String? {
        switch node {
        case .value(.string(let s)): return s
        case .value(.bytes(let b)) where allowBytes: return String(decoding: b, as: UTF8.self)
        default: return nil
        }
    }

    // MARK: - Arena → values

    /// The value of `node` and how many elements it expands to; charges them to the budget.
    private mutating func convert(_ node: Node, depth: Int, cache: inout [Int: (value: PickleValue, elements: Int)],
                                  inProgress: inout Set<Int>) throws(BirderIOError) -> (value: PickleValue, elements: Int) {
        switch node {
        case .value(let value):
            let elements = Self.cost(value)
            try charge(elements)
            return (value, elements)
        case .callable(let name):
            try charge(1)
            return (.global(name), 1)
        case .storage: throw .unsupported(path: path, reason: "a bare storage outside a tensor")
        case .container(let index):
            // A shared structure converts once but counts in full at every reference.
            if let done = cache[index] {
                try charge(done.elements)
                return done
            }
            guard depth < Self.maxDepth else { throw fail("nesting deeper than \(Self.maxDepth)") }
            guard inProgress.insert(index).inserted else { throw .unsupported(path: path, reason: "self-referencing structure") }
            try charge(1)
            var elements = 1
            let container = arena[index]
            var values: [PickleValue] = []
            values.reserveCapacity(container.items.count)
            for item in container.items {
                let converted = try convert(item, depth: depth + 1, cache: &cache, inProgress: &inProgress)
                values.append(converted.value)
                elements += converted.elements
            }
            let result: PickleValue
            switch container.kind {
            case .list: result = .list(values)
            case .tuple: result = .tuple(values)
            case .set: result = .set(values)
            case .dict(let kind):
                var entries: [PickleDict.Entry] = []
                var positions: [String: Int] = [:]
                for k in stride(from: 0, to: values.count, by: 2) {
                    let key = values[k], value = values[k + 1]
                    // A repeated key keeps its first position and takes the last value, as in Python.
                    let identity: String? = switch key {
                    case .string(let s): "s" + s
                    case .int(let i): "i\(i)"
                    default: nil
                    }
                    if let identity, let at = positions[identity] {
                        entries[at].value = value
                    } else {
                        if let identity { positions[identity] = entries.count }
                        entries.append(PickleDict.Entry(key: key, value: value))
                    }
                }
                result = .dict(PickleDict(entries, kind: kind))
            }
            inProgress.remove(index)
            cache[index] = (result, elements)
            return (result, elements)
        }
    }
}
