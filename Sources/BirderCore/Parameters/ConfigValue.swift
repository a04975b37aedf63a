/// A value from a checkpoint's `config` dictionary (a pickled or JSON dict of plain values), which
/// overrides a network's registered config.
public indirect enum ConfigValue: Sendable, Equatable, CustomStringConvertible {
    case null
    case bool(Bool)
    case int(Int)
    case double(Double)
    case string(String)
    case list([ConfigValue])
    case dictionary([String: ConfigValue])

    public var intValue: Int? {
        switch self {
        case let .int(v): return v
        case let .double(v) where v.rounded() == v: return Int(exactly: v)
        default: return nil
        }
    }
    public var doubleValue: Double? {
        switch self {
        case let .int(v): return Double(v)
        case let .double(v): return v
        default: return nil
        }
    }
    public var boolValue: Bool? { if case let .bool(v) = self { return v } else { return nil } }
    public var stringValue: String? { if case let .string(v) = self { return v } else { return nil } }
    public var listValue: [ConfigValue]? { if case let .list(v) = self { return v } else { return nil } }

    public var description: String {
        switch self {
        case .null: return "None"
        case let .bool(v): return v ? "True" : "False"
        case let .int(v): return String(v)
        case let .double(v): return String(v)
        case let .string(v): return "'\(v)'"
        case let .list(v): return "[" + v.map(\.description).joined(separator: ", ") + "]"
        case let .dictionary(v): return "{" + v.keys.sorted().map { "'\($0)': \(v[$0]!)" }.joined(separator: ", ") + "}"
        }
    }
}
