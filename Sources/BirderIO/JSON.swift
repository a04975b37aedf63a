import BirderCore

/// A JSON value with object keys kept in file order (Birder's metadata, safetensors headers,
/// `birder info --json`). Integers stay integers, so `224` never turns into `224.0`.
public indirect enum JSONValue: Sendable, Equatable {
    case null
    case bool(Bool)
    case int(Int)
    case double(Double)
    case string(String)
    case array([JSONValue])
    case object([JSONMember])

    public subscript(key: String) -> JSONValue? {
        guard case .object(let members) = self else { return nil }
        return members.first(where: { $0.key == key })?.value
    }

    public var stringValue: String? { if case .string(let s) = self { s } else { nil } }
    public var intValue: Int? { if case .int(let i) = self { i } else { nil } }
    /// Ints widen to Double.
    public var doubleValue: Double? {
        switch self {
        case .double(let d): d
        case .int(let i): Double(i)
        default: nil
        }
    }
    public var arrayValue: [JSONValue]? { if case .array(let a) = self { a } else { nil } }
    public var objectValue: [JSONMember]? { if case .object(let o) = self { o } else { nil } }
}

public struct JSONMember: Sendable, Equatable {
    public var key: String
    public var value: JSONValue
    public init(_ key: String, _ value: JSONValue) {
        self.key = key
        self.value = value
    }
}

/// Compact JSON text, so a value quoted in a message reads as data, not as Swift enum cases.
extension JSONValue: CustomStringConvertible {
    public var description: String { serialized(pythonStyle: false) }

    /// At most about `limit` characters of the compact text, for error messages.
    func brief(limit: Int = 200) -> String {
        let text = serialized(pythonStyle: false)
        return text.count <= limit ? text : String(text.prefix(limit)) + "…"
    }
}

extension JSONValue {
    public struct ParseError: Error, CustomStringConvertible, Sendable {
        public let description: String
    }

    /// Values one parse may build. Each costs tens of bytes in memory against a few in the text, so
    /// a safetensors header at the library's 100 MB limit could otherwise take gigabytes; real
    /// headers and Birder's metadata hold tens of thousands.
    public static let maxValues = 1 << 21

    /// Parses UTF-8 JSON text. Nesting is limited so hostile input cannot exhaust the stack, and
    /// the number of values so it cannot exhaust memory.
    static func parse(_ bytes: UnsafeRawBufferPointer, maxDepth: Int = 64, maxValues: Int = JSONValue.maxValues) throws(ParseError) -> JSONValue {
        var parser = JSONParser(bytes: bytes, maxDepth: maxDepth, maxValues: maxValues)
        parser.skipWhitespace()
        let value = try parser.value(depth: 0)
        parser.skipWhitespace()
        guard parser.position == bytes.count else { throw parser.error("unexpected data after the JSON value") }
        return value
    }

    /// Parses JSON text (object keys kept in order, integers kept as `Int`).
    public static func parse(_ text: String, maxDepth: Int = 64, maxValues: Int = JSONValue.maxValues) throws(ParseError) -> JSONValue {
        let bytes = Array(text.utf8)
        return try withBytes(bytes) { (raw) throws(ParseError) in try parse(raw, maxDepth: maxDepth, maxValues: maxValues) }
    }

    /// Serialised as Python's `json.dumps` does by default (", " and ": " separators, non-ASCII
    /// escaped), so files written here read back in Birder byte-for-byte like its own.
    public func serialized(pythonStyle: Bool = true) -> String {
        var out = ""
        write(into: &out, pythonStyle: pythonStyle)
        return out
    }

    private func write(into out: inout String, pythonStyle: Bool) {
        switch self {
        case .null: out += "null"
        case .bool(let b): out += b ? "true" : "false"
        case .int(let i): out += String(i)
        case .double(let d): out += JSONValue.formatDouble(d)
        case .string(let s): JSONValue.writeString(s, into: &out, asciiOnly: pythonStyle)
        case .array(let items):
            out += "["
            for (i, item) in items.enumerated() {
                if i > 0 { out += pythonStyle ? ", " : "," }
                item.write(into: &out, pythonStyle: pythonStyle)
            }
            out += "]"
        case .object(let members):
            out += "{"
            for (i, member) in members.enumerated() {
                if i > 0 { out += pythonStyle ? ", " : "," }
                JSONValue.writeString(member.key, into: &out, asciiOnly: pythonStyle)
                out += pythonStyle ? ": " : ":"
                member.value.write(into: &out, pythonStyle: pythonStyle)
            }
            out += "}"
        }
    }

    /// Shortest round-trip text, spelled like Python's `repr(float)`.
    static func formatDouble(_ d: Double) -> String {
        if d.isNaN { return "NaN" }
        if d.isInfinite { return d < 0 ? "-Infinity" : "Infinity" }
        return "\(d)"
    }

    static func writeString(_ s: String, into out: inout String, asciiOnly: Bool) {
        out += "\""
        for unit in s.unicodeScalars {
            switch unit {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case "\u{08}": out += "\\b"
            case "\u{0C}": out += "\\f"
            default:
                if unit.value < 0x20 || (asciiOnly && unit.value > 0x7E) {
                    if unit.value > 0xFFFF {
                        let v = unit.value - 0x10000
                        out += hex4(0xD800 + (v >> 10)) + hex4(0xDC00 + (v & 0x3FF))
                    } else {
                        out += hex4(unit.value)
                    }
                } else {
                    out.unicodeScalars.append(unit)
                }
            }
        }
        out += "\""
    }

    private static func hex4(_ v: UInt32) -> String {
        let digits = String(v, radix: 16)
        return "\\u" + String(repeating: "0", count: 4 - digits.count) + digits
    }
}

private struct JSONParser {
    let bytes: UnsafeRawBufferPointer
    let maxDepth: Int
    let maxValues: Int
    var valuesLeft: Int
    var position = 0

    init(bytes: UnsafeRawBufferPointer, maxDepth: Int, maxValues: Int) {
        self.bytes = bytes
        self.maxDepth = maxDepth
        self.maxValues = maxValues
        valuesLeft = maxValues
    }

    func error(_ message: String) -> JSONValue.ParseError {
        JSONValue.ParseError(description: "\(message) at byte \(position)")
    }

    mutating func skipWhitespace() {
        while position < bytes.count, [0x20, 0x09, 0x0A, 0x0D].contains(bytes[position]) { position += 1 }
    }

    mutating func expect(_ literal: String, _ value: JSONValue) throws(JSONValue.ParseError) -> JSONValue {
        for byte in literal.utf8 {
            guard position < bytes.count, bytes[position] == byte else { throw error("invalid literal") }
            position += 1
        }
        return value
    }

    mutating func value(depth: Int) throws(JSONValue.ParseError) -> JSONValue {
        guard depth < maxDepth else { throw error("nesting deeper than \(maxDepth)") }
        guard valuesLeft > 0 else { throw error("more than \(maxValues) values") }
        valuesLeft -= 1
        guard position < bytes.count else { throw error("unexpected end of JSON") }
        switch bytes[position] {
        case UInt8(ascii: "{"):
            position += 1
            var members: [JSONMember] = []
            skipWhitespace()
            if position < bytes.count, bytes[position] == UInt8(ascii: "}") {
                position += 1
                return .object(members)
            }
            while true {
                skipWhitespace()
                guard position < bytes.count, bytes[position] == UInt8(ascii: "\"") else { throw error("expected a string key") }
                let key = try string()
                skipWhitespace()
                guard position < bytes.count, bytes[position] == UInt8(ascii: ":") else { throw error("expected ':'") }
                position += 1
                skipWhitespace()
                members.append(JSONMember(key, try value(depth: depth + 1)))
                skipWhitespace()
                guard position < bytes.count else { throw error("unterminated object") }
                if bytes[position] == UInt8(ascii: ",") { position += 1; continue }
                if bytes[position] == UInt8(ascii: "}") { position += 1; return .object(members) }
                throw error("expected ',' or '}'")
            }
        case UInt8(ascii: "["):
            position += 1
            var items: [JSONValue] = []
            skipWhitespace()
            if position < bytes.count, bytes[position] == UInt8(ascii: "]") {
                position += 1
                return .array(items)
            }
            while true {
                skipWhitespace()
                items.append(try value(depth: depth + 1))
                skipWhitespace()
                guard position < bytes.count else { throw error("unterminated array") }
                if bytes[position] == UInt8(ascii: ",") { position += 1; continue }
                if bytes[position] == UInt8(ascii: "]") { position += 1; return .array(items) }
                throw error("expected ',' or ']'")
            }
        case UInt8(ascii: "\""): return .string(try string())
        case UInt8(ascii: "t"): return try expect("true", .bool(true))
        case UInt8(ascii: "f"): return try expect("false", .bool(false))
        case UInt8(ascii: "n"): return try expect("null", .null)
        case UInt8(ascii: "N"): return try expect("NaN", .double(.nan))
        case UInt8(ascii: "I"): return try expect("Infinity", .double(.infinity))
        default: return try number()
        }
    }

    mutating func number() throws(JSONValue.ParseError) -> JSONValue {
        let start = position
        if position < bytes.count, bytes[position] == UInt8(ascii: "-") {
            position += 1
            if position < bytes.count, bytes[position] == UInt8(ascii: "I") {
                _ = try expect("Infinity", .null)
                return .double(-.infinity)
            }
        }
        var isInteger = true
        var digits = 0
        while position < bytes.count {
            let c = bytes[position]
            if c >= UInt8(ascii: "0") && c <= UInt8(ascii: "9") {
                digits += 1
            } else if c == UInt8(ascii: ".") || c == UInt8(ascii: "e") || c == UInt8(ascii: "E")
                        || ((c == UInt8(ascii: "+") || c == UInt8(ascii: "-")) && position > start) {
                isInteger = false
            } else {
                break
            }
            position += 1
        }
        guard digits > 0, position - start <= 64 else { throw error("invalid number") }
        let text = String(decoding: UnsafeRawBufferPointer(rebasing: bytes[start..<position]), as: UTF8.self)
        if isInteger, let i = Int(text) { return .int(i) }
        guard let d = Double(text) else { throw error("invalid number '\(text)'") }
        return .double(d)
    }

    mutating func hex4() throws(JSONValue.ParseError) -> UInt32 {
        guard bytes.count - position >= 4 else { throw error("truncated \\u escape") }
        var v: UInt32 = 0
        for _ in 0..<4 {
            let c = bytes[position]
            position += 1
            let digit: UInt32
            switch c {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = UInt32(c - UInt8(ascii: "0"))
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = UInt32(c - UInt8(ascii: "a") + 10)
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = UInt32(c - UInt8(ascii: "A") + 10)
            default: throw error("invalid \\u escape")
            }
            v = v << 4 | digit
        }
        return v
    }

    mutating func string() throws(JSONValue.ParseError) -> String {
        position += 1  // opening quote
        var scalars = String.UnicodeScalarView()
        var runStart = position
        func flush(_ end: Int, into scalars: inout String.UnicodeScalarView) {
            if end > runStart {
                scalars.append(contentsOf: String(decoding: UnsafeRawBufferPointer(rebasing: bytes[runStart..<end]), as: UTF8.self).unicodeScalars)
            }
        }
        while true {
            guard position < bytes.count else { throw error("unterminated string") }
            let c = bytes[position]
            if c == UInt8(ascii: "\"") {
                flush(position, into: &scalars)
                position += 1
                return String(scalars)
            }
            if c < 0x20 { throw error("control character in string") }
            if c != UInt8(ascii: "\\") {
                position += 1
                continue
            }
            flush(position, into: &scalars)
            position += 1
            guard position < bytes.count else { throw error("unterminated escape") }
            let e = bytes[position]
            position += 1
            switch e {
            case UInt8(ascii: "\""): scalars.append("\"")
            case UInt8(ascii: "\\"): scalars.append("\\")
            case UInt8(ascii: "/"): scalars.append("/")
            case UInt8(ascii: "b"): scalars.append("\u{08}")
            case UInt8(ascii: "f"): scalars.append("\u{0C}")
            case UInt8(ascii: "n"): scalars.append("\n")
            case UInt8(ascii: "r"): scalars.append("\r")
            case UInt8(ascii: "t"): scalars.append("\t")
            case UInt8(ascii: "u"):
                var v = try hex4()
                if (0xD800..<0xDC00).contains(v), bytes.count - position >= 6,
                   bytes[position] == UInt8(ascii: "\\"), bytes[position + 1] == UInt8(ascii: "u") {
                    let save = position
                    position += 2
                    let low = try hex4()
                    if (0xDC00..<0xE000).contains(low) {
                        v = 0x10000 + ((v - 0xD800) << 10) + (low - 0xDC00)
                    } else {
                        position = save
                    }
                }
                scalars.append(Unicode.Scalar(v) ?? "\u{FFFD}")
            default: throw error("invalid escape")
            }
            runStart = position
        }
    }
}

extension ConfigValue {
    /// JSON data as a config value (objects become dictionaries).
    public init(json: JSONValue) {
        switch json {
        case .null: self = .null
        case .bool(let b): self = .bool(b)
        case .int(let i): self = .int(i)
        case .double(let d): self = .double(d)
        case .string(let s): self = .string(s)
        case .array(let items): self = .list(items.map(ConfigValue.init(json:)))
        case .object(let members):
            self = .dictionary(Dictionary(members.map { ($0.key, ConfigValue(json: $0.value)) }, uniquingKeysWith: { _, last in last }))
        }
    }

    /// The value as JSON, dictionary keys sorted.
    public var json: JSONValue {
        switch self {
        case .null: .null
        case .bool(let b): .bool(b)
        case .int(let i): .int(i)
        case .double(let d): .double(d)
        case .string(let s): .string(s)
        case .list(let items): .array(items.map(\.json))
        case .dictionary(let dict): .object(dict.keys.sorted().map { JSONMember($0, dict[$0]!.json) })
        }
    }
}
