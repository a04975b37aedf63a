/// The Arrow schema that pyarrow keeps in a Parquet file's `ARROW:schema` key: an Arrow IPC
/// `Schema` message (FlatBuffers), base64-encoded. Parquet itself has no fixed-size list, so
/// without it pyarrow and polars read `embedding` as a variable-length list and Birder's
/// `load_embeddings(...)["embedding"].to_numpy()` gives an object array instead of an N×D matrix.
///
/// Only the types Birder's embeddings schema uses are written: Utf8, Int, FloatingPoint and
/// FixedSizeList. Field ids and enum values are those of Arrow's Schema.fbs / Message.fbs.
enum ArrowSchemaMessage {
    indirect enum ArrowType {
        case utf8
        case int(bitWidth: Int32, signed: Bool)
        case float32
        case fixedSizeList(size: Int32, item: ArrowField)
    }

    struct ArrowField {
        var name: String
        var nullable = true
        var type: ArrowType
    }

    /// The encapsulated message (continuation marker, length, FlatBuffer, padding), base64.
    static func base64(_ fields: [ArrowField]) -> String {
        Base64.encode(encapsulated(fields))
    }

    static func encapsulated(_ fields: [ArrowField]) -> [UInt8] {
        var builder = FlatBufferBuilder()
        let root = builder.finish(message(fields))
        var padded = root
        while padded.count % 8 != 0 { padded.append(0) }
        var out: [UInt8] = [0xFF, 0xFF, 0xFF, 0xFF]
        withUnsafeBytes(of: UInt32(padded.count).littleEndian) { out.append(contentsOf: $0) }
        return out + padded
    }

    private static func message(_ fields: [ArrowField]) -> FlatBufferBuilder.Node {
        let schema: FlatBufferBuilder.Node = .table([
            .i16(0),  // endianness: Little
            .offset(.tables(fields.map(field))),
        ])
        // version V5, header_type Schema, header, bodyLength 0
        return .table([.i16(4), .u8(1), .offset(schema), .i64(0)])
    }

    private static func field(_ field: ArrowField) -> FlatBufferBuilder.Node {
        let typeID: UInt8, typeTable: FlatBufferBuilder.Node, children: [FlatBufferBuilder.Node]
        switch field.type {
        case .utf8:
            (typeID, typeTable, children) = (5, .table([]), [])
        case let .int(bitWidth, signed):
            (typeID, typeTable, children) = (2, .table([.i32(bitWidth), .bool(signed)]), [])
        case .float32:
            (typeID, typeTable, children) = (3, .table([.i16(1)]), [])  // precision SINGLE
        case let .fixedSizeList(size, item):
            (typeID, typeTable, children) = (16, .table([.i32(size)]), [Self.field(item)])
        }
        // name, nullable, type_type, type, dictionary (absent), children
        return .table([.offset(.string(field.name)), .bool(field.nullable), .u8(typeID), .offset(typeTable), nil,
                       .offset(.tables(children))])
    }
}

/// A FlatBuffer written front to back: each table's vtable just before it, every child after its
/// parent (FlatBuffers offsets to children are unsigned and point forward; a table's signed
/// offset to its vtable may point back).
struct FlatBufferBuilder {
    indirect enum Node {
        /// Fields by slot (nil: absent).
        case table([Field?])
        case string(String)
        case tables([Node])
    }

    enum Field {
        case bool(Bool), u8(UInt8), i16(Int16), i32(Int32), i64(Int64)
        case offset(Node)

        var size: Int {
            switch self {
            case .bool, .u8: return 1
            case .i16: return 2
            case .i32, .offset: return 4
            case .i64: return 8
            }
        }
    }

    private var bytes: [UInt8] = []

    mutating func finish(_ root: Node) -> [UInt8] {
        bytes = [0, 0, 0, 0]
        let position = write(root)
        patch(0, UInt32(position))
        return bytes
    }

    private mutating func align(_ alignment: Int) {
        while bytes.count % alignment != 0 { bytes.append(0) }
    }

    private mutating func append<T: FixedWidthInteger>(_ value: T) {
        withUnsafeBytes(of: value.littleEndian) { bytes.append(contentsOf: $0) }
    }

    private mutating func patch(_ at: Int, _ value: UInt32) {
        withUnsafeBytes(of: value.littleEndian) { raw in
            for i in 0..<4 { bytes[at + i] = raw[i] }
        }
    }

    /// Writes a node and its children; returns where offsets to it point.
    private mutating func write(_ node: Node) -> Int {
        switch node {
        case .string(let text):
            align(4)
            let position = bytes.count
            append(UInt32(text.utf8.count))
            bytes.append(contentsOf: Array(text.utf8))
            bytes.append(0)
            return position
        case .tables(let items):
            align(4)
            let position = bytes.count
            append(UInt32(items.count))
            let slots = bytes.count
            for _ in items { append(UInt32(0)) }
            for (i, item) in items.enumerated() {
                let child = write(item)
                let slot = slots + 4 * i
                patch(slot, UInt32(child - slot))
            }
            return position
        case .table(let fields):
            // Inline layout: widest fields first, each naturally aligned after the 4-byte vtable offset.
            var layout = [Int](repeating: 0, count: fields.count)
            var size = 4
            for width in [8, 4, 2, 1] {
                for (slot, field) in fields.enumerated() where field?.size == width {
                    while size % width != 0 { size += 1 }
                    layout[slot] = size
                    size += width
                }
            }
            while size % 4 != 0 { size += 1 }
            align(2)
            let vtable = bytes.count
            append(UInt16(4 + 2 * fields.count))
            append(UInt16(size))
            for (slot, field) in fields.enumerated() { append(UInt16(field == nil ? 0 : layout[slot])) }
            align(8)
            let table = bytes.count
            append(Int32(table - vtable))
            bytes.append(contentsOf: [UInt8](repeating: 0, count: size - 4))
            var children: [(slot: Int, node: Node)] = []
            for (slot, field) in fields.enumerated() {
                guard let field else { continue }
                let at = table + layout[slot]
                var scalar: [UInt8] = []
                switch field {
                case .bool(let v): scalar = [v ? 1 : 0]
                case .u8(let v): scalar = [v]
                case .i16(let v): withUnsafeBytes(of: v.littleEndian) { scalar = Array($0) }
                case .i32(let v): withUnsafeBytes(of: v.littleEndian) { scalar = Array($0) }
                case .i64(let v): withUnsafeBytes(of: v.littleEndian) { scalar = Array($0) }
                case .offset(let node): children.append((at, node))
                }
                for (i, b) in scalar.enumerated() { bytes[at + i] = b }
            }
            for (at, node) in children {
                let child = write(node)
                patch(at, UInt32(child - at))
            }
            return table
        }
    }
}

/// RFC 4648 base64 with padding (BirderIO does not depend on Foundation).
enum Base64 {
    private static let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)

    static func encode(_ bytes: [UInt8]) -> String {
        var out: [UInt8] = []
        out.reserveCapacity((bytes.count + 2) / 3 * 4)
        var i = 0
        while i < bytes.count {
            let b0 = Int(bytes[i]), b1 = i + 1 < bytes.count ? Int(bytes[i + 1]) : 0, b2 = i + 2 < bytes.count ? Int(bytes[i + 2]) : 0
            out.append(alphabet[b0 >> 2])
            out.append(alphabet[(b0 & 3) << 4 | b1 >> 4])
            out.append(i + 1 < bytes.count ? alphabet[(b1 & 15) << 2 | b2 >> 6] : UInt8(ascii: "="))
            out.append(i + 2 < bytes.count ? alphabet[b2 & 63] : UInt8(ascii: "="))
            i += 3
        }
        return String(decoding: out, as: UTF8.self)
    }
}
