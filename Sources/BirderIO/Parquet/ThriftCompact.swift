/// Apache Thrift's compact protocol, the encoding of Parquet's footer and page headers: a reader
/// that parses any value into a tree (so fields this project does not use are skipped without a
/// schema) and a writer for the structures Parquet needs.
///
/// The reader trusts nothing: every length is checked against the bytes present, nesting is
/// capped, and a list cannot claim more elements than it has bytes.
enum ThriftValue: Equatable {
    case bool(Bool)
    case int(Int64)
    case double(Double)
    case binary([UInt8])
    case list([ThriftValue])
    case map([(ThriftValue, ThriftValue)])
    case structure(ThriftStruct)

    static func == (lhs: ThriftValue, rhs: ThriftValue) -> Bool {
        switch (lhs, rhs) {
        case let (.bool(a), .bool(b)): return a == b
        case let (.int(a), .int(b)): return a == b
        case let (.double(a), .double(b)): return a.bitPattern == b.bitPattern
        case let (.binary(a), .binary(b)): return a == b
        case let (.list(a), .list(b)): return a == b
        case let (.map(a), .map(b)): return a.count == b.count && zip(a, b).allSatisfy { $0.0 == $1.0 && $0.1 == $1.1 }
        case let (.structure(a), .structure(b)): return a == b
        default: return false
        }
    }
}

/// A parsed struct: its fields by id.
struct ThriftStruct: Equatable {
    var fields: [Int16: ThriftValue] = [:]

    subscript(id: Int16) -> ThriftValue? { fields[id] }
}

/// Why a Thrift value could not be read (the caller adds the file and what was being read).
struct ThriftError: Error, Equatable {
    let reason: String
}

/// Compact-protocol type codes.
enum ThriftType: UInt8 {
    case boolTrue = 1, boolFalse = 2, byte = 3, i16 = 4, i32 = 5, i64 = 6, double = 7, binary = 8
    case list = 9, set = 10, map = 11, structure = 12
}

struct ThriftReader {
    static let maxDepth = 64

    private var reader: ByteReader

    init(_ bytes: UnsafeRawBufferPointer, at position: Int = 0) {
        reader = ByteReader(bytes, at: position)
    }

    var position: Int { reader.position }

    /// A struct starting at the current position.
    mutating func readStruct() throws(ThriftError) -> ThriftStruct {
        try readStruct(depth: 0)
    }

    private mutating func readStruct(depth: Int) throws(ThriftError) -> ThriftStruct {
        guard depth < Self.maxDepth else { throw ThriftError(reason: "structures nested more than \(Self.maxDepth) deep") }
        var result = ThriftStruct()
        var lastID: Int16 = 0
        while true {
            let header = try byte()
            if header == 0 { return result }
            let delta = header >> 4
            let id: Int16
            if delta != 0 {
                let (sum, overflow) = lastID.addingReportingOverflow(Int16(delta))
                guard !overflow else { throw ThriftError(reason: "field id overflows") }
                id = sum
            } else {
                id = try i16()
            }
            lastID = id
            guard let type = ThriftType(rawValue: header & 0x0F) else {
                throw ThriftError(reason: "unknown field type \(header & 0x0F)")
            }
            result.fields[id] = try value(of: type, depth: depth, inField: true)
        }
    }

    private mutating func value(of type: ThriftType, depth: Int, inField: Bool) throws(ThriftError) -> ThriftValue {
        switch type {
        case .boolTrue where inField: return .bool(true)
        case .boolFalse where inField: return .bool(false)
        case .boolTrue, .boolFalse:
            // In a list, each boolean is one byte of its own.
            return .bool(try byte() == 1)
        case .byte: return .int(Int64(Int8(bitPattern: try byte())))
        case .i16, .i32, .i64: return .int(try zigzag())
        case .double:
            do { return .double(Double(bitPattern: try reader.u64())) } catch { throw truncated }
        case .binary:
            let length = try varint()
            guard length <= UInt64(reader.remaining) else {
                throw ThriftError(reason: "a string of \(length) bytes runs past the end (\(reader.remaining) left)")
            }
            do { return .binary(Array(try reader.slice(Int(length)))) } catch { throw truncated }
        case .list, .set:
            let header = try byte()
            var count = UInt64(header >> 4)
            if count == 15 { count = try varint() }
            guard let element = ThriftType(rawValue: header & 0x0F) else {
                throw ThriftError(reason: "unknown list element type \(header & 0x0F)")
            }
            // Every element takes at least one byte: a count beyond the bytes left is a lie.
            guard count <= UInt64(reader.remaining) else {
                throw ThriftError(reason: "a list of \(count) elements runs past the end (\(reader.remaining) bytes left)")
            }
            var items: [ThriftValue] = []
            items.reserveCapacity(Int(count))
            for _ in 0..<count { items.append(try value(of: element, depth: depth + 1, inField: false)) }
            return .list(items)
        case .map:
            let count = try varint()
            guard count > 0 else { return .map([]) }
            guard count <= UInt64(reader.remaining) else {
                throw ThriftError(reason: "a map of \(count) entries runs past the end (\(reader.remaining) bytes left)")
            }
            let types = try byte()
            guard let key = ThriftType(rawValue: types >> 4), let item = ThriftType(rawValue: types & 0x0F) else {
                throw ThriftError(reason: "unknown map key or value type")
            }
            var entries: [(ThriftValue, ThriftValue)] = []
            for _ in 0..<count {
                entries.append((try value(of: key, depth: depth + 1, inField: false), try value(of: item, depth: depth + 1, inField: false)))
            }
            return .map(entries)
        case .structure:
            return .structure(try readStruct(depth: depth + 1))
        }
    }

    private var truncated: ThriftError { ThriftError(reason: "ends in the middle of a value") }

    private mutating func byte() throws(ThriftError) -> UInt8 {
        do { return try reader.u8() } catch { throw truncated }
    }

    private mutating func varint() throws(ThriftError) -> UInt64 {
        var result: UInt64 = 0
        var shift: UInt64 = 0
        while true {
            let b = try byte()
            guard shift < 64 else { throw ThriftError(reason: "a variable-length integer is longer than 64 bits") }
            result |= UInt64(b & 0x7F) << shift
            if b & 0x80 == 0 { return result }
            shift += 7
        }
    }

    private mutating func zigzag() throws(ThriftError) -> Int64 {
        let v = try varint()
        return Int64(bitPattern: (v >> 1) ^ (0 &- (v & 1)))
    }

    private mutating func i16() throws(ThriftError) -> Int16 {
        let v = try zigzag()
        guard let id = Int16(exactly: v) else { throw ThriftError(reason: "field id \(v) out of range") }
        return id
    }
}

/// Writes compact-protocol structs field by field. Fields must be written in increasing id order
/// within a struct (as Parquet's writers do), which keeps every field header one byte.
struct ThriftWriter {
    private(set) var bytes: [UInt8] = []
    private var lastIDs: [Int16] = [0]

    mutating func beginStruct(_ id: Int16) {
        fieldHeader(id, .structure)
        lastIDs.append(0)
    }

    mutating func endStruct() {
        bytes.append(0)
        lastIDs.removeLast()
    }

    /// The end of the outermost struct.
    mutating func finish() -> [UInt8] {
        bytes.append(0)
        return bytes
    }

    mutating func i32(_ id: Int16, _ value: Int32) {
        fieldHeader(id, .i32)
        zigzag(Int64(value))
    }

    mutating func i64(_ id: Int16, _ value: Int64) {
        fieldHeader(id, .i64)
        zigzag(value)
    }

    mutating func bool(_ id: Int16, _ value: Bool) {
        fieldHeader(id, value ? .boolTrue : .boolFalse)
    }

    mutating func binary(_ id: Int16, _ value: [UInt8]) {
        fieldHeader(id, .binary)
        rawBinary(value)
    }

    mutating func string(_ id: Int16, _ value: String) { binary(id, Array(value.utf8)) }

    /// A list field whose elements are written by `body` (structs: `beginListStruct`/`endStruct`).
    mutating func list(_ id: Int16, of element: ThriftType, count: Int, _ body: (inout ThriftWriter) -> Void) {
        fieldHeader(id, .list)
        if count < 15 {
            bytes.append(UInt8(count) << 4 | element.rawValue)
        } else {
            bytes.append(0xF0 | element.rawValue)
            varint(UInt64(count))
        }
        body(&self)
    }

    /// Starts a struct that is an element of a list.
    mutating func beginListStruct() { lastIDs.append(0) }

    mutating func listI32(_ value: Int32) { zigzag(Int64(value)) }
    mutating func listString(_ value: String) { rawBinary(Array(value.utf8)) }

    private mutating func rawBinary(_ value: [UInt8]) {
        varint(UInt64(value.count))
        bytes.append(contentsOf: value)
    }

    private mutating func fieldHeader(_ id: Int16, _ type: ThriftType) {
        let delta = Int(id) - Int(lastIDs[lastIDs.count - 1])
        if delta > 0 && delta <= 15 {
            bytes.append(UInt8(delta) << 4 | type.rawValue)
        } else {
            bytes.append(type.rawValue)
            zigzag(Int64(id))
        }
        lastIDs[lastIDs.count - 1] = id
    }

    private mutating func varint(_ value: UInt64) {
        var v = value
        while v >= 0x80 {
            bytes.append(UInt8(v & 0x7F) | 0x80)
            v >>= 7
        }
        bytes.append(UInt8(v))
    }

    private mutating func zigzag(_ value: Int64) {
        varint(UInt64(bitPattern: (value << 1) ^ (value >> 63)))
    }
}
