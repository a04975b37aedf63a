/// A value decoded from (or to be encoded as) a weights-only pickle: the plain Python data a
/// checkpoint is made of, with tensors as `StoredTensor`s over the file's storages.
package indirect enum PickleValue: Sendable {
    case none
    case bool(Bool)
    case int(Int)
    case float(Double)
    case string(String)
    case bytes([UInt8])
    case list([PickleValue])
    case tuple([PickleValue])
    case set([PickleValue])
    case dict(PickleDict)
    case tensor(StoredTensor)
    /// An allow-listed name used as a value, e.g. a dtype (`torch.float32`) or a layout.
    case global(String)
    /// An allow-listed constructor applied to arguments, e.g. `torch.device("cpu")`, `complex(1, 2)`,
    /// `torch.serialization._get_layout("torch.strided")`. (`torch.Size` reads as a tuple.)
    case object(String, [PickleValue])

    package var stringValue: String? { if case .string(let s) = self { s } else { nil } }
    package var intValue: Int? { if case .int(let i) = self { i } else { nil } }
    package var boolValue: Bool? { if case .bool(let b) = self { b } else { nil } }
    /// Floats, and ints widened to Double.
    package var doubleValue: Double? {
        switch self {
        case .float(let d): d
        case .int(let i): Double(i)
        default: nil
        }
    }
    package var dictValue: PickleDict? { if case .dict(let d) = self { d } else { nil } }
    package var tensorValue: StoredTensor? { if case .tensor(let t) = self { t } else { nil } }
    /// The items of a list or a tuple.
    package var sequenceValue: [PickleValue]? {
        switch self {
        case .list(let items), .tuple(let items): items
        default: nil
        }
    }

    package subscript(key: String) -> PickleValue? { dictValue?[key] }

    /// Plain data as JSON (tuples and sets become arrays, dict keys their text); nil when the
    /// value holds a tensor, bytes or an object.
    package var jsonValue: JSONValue? {
        switch self {
        case .none: return JSONValue.null
        case .bool(let b): return .bool(b)
        case .int(let i): return .int(i)
        case .float(let d): return .double(d)
        case .string(let s): return .string(s)
        case .list(let items), .tuple(let items), .set(let items):
            var result: [JSONValue] = []
            for item in items {
                guard let j = item.jsonValue else { return nil }
                result.append(j)
            }
            return .array(result)
        case .dict(let dict):
            var members: [JSONMember] = []
            for entry in dict.entries {
                let key: String
                switch entry.key {
                case .string(let s): key = s
                case .int(let i): key = String(i)
                case .float(let d): key = JSONValue.formatDouble(d)
                case .bool(let b): key = b ? "true" : "false"
                case .none: key = "null"
                default: return nil
                }
                guard let j = entry.value.jsonValue else { return nil }
                members.append(JSONMember(key, j))
            }
            return .object(members)
        case .bytes, .tensor, .global, .object: return nil
        }
    }

    /// JSON data as a pickle value (objects become plain dicts).
    package init(json: JSONValue) {
        switch json {
        case .null: self = .none
        case .bool(let b): self = .bool(b)
        case .int(let i): self = .int(i)
        case .double(let d): self = .float(d)
        case .string(let s): self = .string(s)
        case .array(let items): self = .list(items.map(PickleValue.init(json:)))
        case .object(let members):
            self = .dict(PickleDict(members.map { PickleDict.Entry(key: .string($0.key), value: PickleValue(json: $0.value)) }))
        }
    }
}

/// A Python dict in insertion order; `kind` records which mapping type the pickle built.
package struct PickleDict: Sendable {
    package enum Kind: Sendable, Equatable { case dict, orderedDict, counter }

    package struct Entry: Sendable {
        package var key: PickleValue
        package var value: PickleValue
        package init(key: PickleValue, value: PickleValue) {
            self.key = key
            self.value = value
        }
    }

    package var kind: Kind
    package var entries: [Entry]

    package init(_ entries: [Entry] = [], kind: Kind = .dict) {
        self.entries = entries
        self.kind = kind
    }

    /// A dict with string keys, in the given order.
    package init(_ pairs: [(String, PickleValue)], kind: Kind = .dict) {
        self.init(pairs.map { Entry(key: .string($0.0), value: $0.1) }, kind: kind)
    }

    package var count: Int { entries.count }

    /// The value under a string key (linear: checkpoint dicts are small at the top level).
    package subscript(key: String) -> PickleValue? {
        for entry in entries {
            if case .string(let k) = entry.key, k == key { return entry.value }
        }
        return nil
    }
}

/// Written as Python would show it (`{'a': [1, 2.5]}`), cut after about 200 characters: error
/// messages quote values from files, which can be huge.
extension PickleValue: CustomStringConvertible {
    package var description: String {
        var out = BoundedText(limit: 200)
        write(into: &out)
        return out.text
    }

    private func write(into out: inout BoundedText) {
        guard !out.isFull else { return }
        func sequence(_ items: [PickleValue], _ open: String, _ close: String, trailingComma: Bool = false) {
            out.append(open)
            for (i, item) in items.enumerated() {
                if out.isFull { return }
                if i > 0 { out.append(", ") }
                item.write(into: &out)
            }
            if trailingComma && items.count == 1 { out.append(",") }
            out.append(close)
        }
        switch self {
        case .none: out.append("None")
        case .bool(let b): out.append(b ? "True" : "False")
        case .int(let i): out.append(String(i))
        case .float(let d): out.append(d.isNaN ? "nan" : d.isInfinite ? (d < 0 ? "-inf" : "inf") : "\(d)")
        case .string(let s): out.append("'"); out.append(s); out.append("'")
        case .bytes(let b): out.append("<\(b.count) bytes>")
        case .list(let items): sequence(items, "[", "]")
        case .tuple(let items): sequence(items, "(", ")", trailingComma: true)
        case .set(let items): items.isEmpty ? out.append("set()") : sequence(items, "{", "}")
        case .dict(let dict):
            out.append("{")
            for (i, entry) in dict.entries.enumerated() {
                if out.isFull { return }
                if i > 0 { out.append(", ") }
                entry.key.write(into: &out)
                out.append(": ")
                entry.value.write(into: &out)
            }
            out.append("}")
        case .tensor(let t): out.append("<tensor \(t.dtype.rawValue) \(t.shape)>")
        case .global(let name): out.append(name)
        case .object(let name, let args): out.append(name); sequence(args, "(", ")")
        }
    }
}

/// Text that stops growing at `limit` characters and then ends in "…".
struct BoundedText {
    let limit: Int
    private(set) var text = ""
    private var length = 0
    private(set) var isFull = false

    init(limit: Int) { self.limit = limit }

    mutating func append(_ piece: String) {
        guard !isFull else { return }
        for character in piece {
            if length == limit {
                text += "…"
                isFull = true
                return
            }
            text.append(character)
            length += 1
        }
    }
}
