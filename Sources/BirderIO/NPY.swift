import BirderCore

/// NumPy's `.npy` format: magic, version, a Python-literal header dict (`descr`,
/// `fortran_order`, `shape`), then the elements.
public enum NPY {
    private static let magic: [UInt8] = [0x93] + Array("NUMPY".utf8)

    /// Reads any supported dtype (little- or big-endian, C or Fortran order) without copying.
    public static func read(_ path: String) throws(BirderIOError) -> StoredTensor {
        let file = try FileContents(path: path) { (prefix, _) throws(BirderIOError) in
            guard prefix.count >= magic.count, Array(prefix.prefix(magic.count)) == magic else {
                throw .invalidNpy(path: path, reason: "no NUMPY magic")
            }
        }
        return try read(file)
    }

    static func read(_ file: FileContents) throws(BirderIOError) -> StoredTensor {
        let path = file.path
        let bytes = file.bytes
        let layout = try layout(ofPrefix: bytes, fileSize: bytes.count, path: path)
        let count = layout.shape.reduce(1, *)
        let storage = StorageBuffer(dtype: layout.dtype, count: count,
                                    base: bytes.baseAddress.map { UnsafeRawPointer($0 + layout.dataOffset) },
                                    isBigEndian: layout.isBigEndian, owner: file)
        let strides = layout.isFortranOrder
            ? Array(StoredTensor.contiguousStrides(Array(layout.shape.reversed())).reversed())
            : StoredTensor.contiguousStrides(layout.shape)
        do {
            return try StoredTensor(storage: storage, shape: layout.shape, strides: strides)
        } catch {
            throw .invalidNpy(path: path, reason: error.description)
        }
    }

    /// What an `.npy` file's elements are and where they lie, from its header alone.
    package struct Layout: Sendable, Equatable {
        package let dtype: DType
        package let isBigEndian: Bool
        package let isFortranOrder: Bool
        package let shape: [Int]
        /// Offset of the first element in the file.
        package let dataOffset: Int
        /// Bytes of the elements: the shape's count × the dtype's size.
        package let dataBytes: Int

        /// A little-endian float32 matrix in C order: its bytes are rows as they are.
        package var isFloat32Rows: Bool {
            dtype == .float32 && !isBigEndian && shape.count == 2 && (!isFortranOrder || shape[0] <= 1 || shape[1] <= 1)
        }
    }

    private static let headerLimit = 1 << 20

    /// The layout of the `.npy` file at `path`, reading only its header (a merge streams the
    /// elements instead of holding them).
    package static func layout(of path: String) throws(BirderIOError) -> Layout {
        let file = try RegularFile(path: path)
        defer { file.close() }
        let count = min(file.size, headerLimit + 12)
        guard count > 0 else { throw .invalidNpy(path: path, reason: "no NUMPY magic") }
        let prefix = UnsafeMutableRawBufferPointer.allocate(byteCount: count, alignment: 8)
        defer { prefix.deallocate() }
        try file.read(into: prefix.baseAddress!, count: count, at: 0)
        return try layout(ofPrefix: UnsafeRawBufferPointer(prefix), fileSize: file.size, path: path)
    }

    /// Parses the header at the start of `bytes`, the first bytes of a file of `fileSize` bytes.
    private static func layout(ofPrefix bytes: UnsafeRawBufferPointer, fileSize: Int, path: String) throws(BirderIOError) -> Layout {
        func fail(_ reason: String) -> BirderIOError { .invalidNpy(path: path, reason: reason) }
        var r = ByteReader(bytes)
        let header: String
        do {
            guard Array(try r.slice(6)) == magic else { throw fail("no NUMPY magic") }
            let major = try r.u8()
            _ = try r.u8()
            let length: Int
            switch major {
            case 1: length = Int(try r.u16())
            case 2, 3: length = Int(try r.u32())
            default: throw BirderIOError.unsupported(path: path, reason: ".npy format version \(major)")
            }
            guard length <= headerLimit else { throw fail("header of \(length) bytes") }
            header = String(decoding: try r.slice(length), as: UTF8.self)
        } catch is ByteReader.Truncated {
            throw fail("truncated header")
        } catch let error as BirderIOError {
            throw error
        } catch {
            throw fail("\(error)")
        }
        let fields: [String: HeaderValue]
        do {
            var parser = HeaderParser(text: Array(header.unicodeScalars))
            fields = try parser.dict()
        } catch {
            throw fail("header is not a Python dict literal: \(header.trimmingSpaces)")
        }
        guard case .string(let descr)? = fields["descr"] else { throw fail("header has no 'descr'") }
        guard case .bool(let fortran)? = fields["fortran_order"] else { throw fail("header has no 'fortran_order'") }
        guard case .tuple(let shape)? = fields["shape"] else { throw fail("header has no 'shape'") }
        guard descr.count >= 2 else { throw fail("invalid descr '\(descr)'") }
        let order = descr.first!
        let kind = String(descr.dropFirst())
        let dtypes: [String: DType] = ["f4": .float32, "f8": .float64, "f2": .float16, "i8": .int64, "i4": .int32,
                                       "i2": .int16, "i1": .int8, "u1": .uint8, "b1": .bool]
        guard "<>|=".contains(order), let dtype = dtypes[kind] else {
            throw .unsupported(path: path, reason: ".npy dtype '\(descr)'")
        }
        var count = 1
        for dim in shape {
            guard dim >= 0 else { throw fail("negative dimension in shape \(shape)") }
            let (product, overflow) = count.multipliedReportingOverflow(by: dim)
            guard !overflow else { throw fail("element count of shape \(shape) overflows") }
            count = product
        }
        let remaining = fileSize - r.position
        let (needed, overflow) = count.multipliedReportingOverflow(by: dtype.byteSize)
        guard !overflow, needed <= remaining else {
            throw fail("shape \(shape) of \(descr) needs \(overflow ? "too many" : String(needed)) bytes, the file has \(remaining)")
        }
        return Layout(dtype: dtype, isBigEndian: order == ">" && dtype.byteSize > 1, isFortranOrder: fortran, shape: shape,
                      dataOffset: r.position, dataBytes: needed)
    }

    /// Reads and converts to a contiguous Float32 tensor.
    public static func readFloat32(_ path: String) throws(BirderIOError) -> Tensor {
        try read(path).float32Tensor()
    }

    /// Writes a Float32 tensor as C-order little-endian `<f4`, format version 1.0.
    public static func write(_ tensor: Tensor, to path: String) throws(BirderIOError) {
        try write(StoredTensor(tensor), to: path)
    }

    /// Writes any supported dtype except bfloat16 (NumPy has none), C order, little-endian.
    public static func write(_ tensor: StoredTensor, to path: String) throws(BirderIOError) {
        let descr: String
        switch tensor.dtype {
        case .float32: descr = "<f4"
        case .float64: descr = "<f8"
        case .float16: descr = "<f2"
        case .int64: descr = "<i8"
        case .int32: descr = "<i4"
        case .int16: descr = "<i2"
        case .int8: descr = "|i1"
        case .uint8: descr = "|u1"
        case .bool: descr = "|b1"
        case .bfloat16: throw .unsupported(path: path, reason: "NumPy has no bfloat16")
        }
        let header: [UInt8]
        do { header = try self.header(descr: descr, shape: tensor.shape) } catch { throw .unsupported(path: path, reason: "shape too long for a version 1.0 header") }
        let output = try OutputFile(path: path)
        try output.write(header)
        if tensor.isContiguous, !tensor.storage.isBigEndian, let base = tensor.storage.base {
            try output.write(UnsafeRawBufferPointer(start: base + tensor.storageOffset * tensor.dtype.byteSize, count: tensor.byteCount))
        } else {
            try output.write(tensor.contiguousBytes())
        }
        try output.commit()
    }

    package struct HeaderTooLong: Error {}

    /// The bytes before the elements of a version 1.0 `.npy`: magic, version, header length and the
    /// dict, padded with spaces (as NumPy does) so the data starts on a 64-byte boundary, or, with
    /// `length`, to exactly that many bytes — a streaming writer reserves room for the final shape
    /// and rewrites the header in place once the row count is known.
    package static func header(descr: String, shape: [Int], length: Int? = nil) throws(HeaderTooLong) -> [UInt8] {
        let shapeText = shape.count == 1 ? "(\(shape[0]),)" : "(" + shape.map(String.init).joined(separator: ", ") + ")"
        var dict = "{'descr': '\(descr)', 'fortran_order': False, 'shape': \(shapeText), }"
        let unpadded = 10 + dict.utf8.count + 1
        let total = length ?? unpadded + (64 - unpadded % 64) % 64
        guard total >= unpadded, total - 10 <= 0xFFFF else { throw HeaderTooLong() }
        dict += String(repeating: " ", count: total - unpadded) + "\n"
        var out = ByteWriter()
        out.append(magic)
        out.u8(1); out.u8(0)
        out.u16(UInt16(dict.utf8.count))
        out.append(dict)
        return out.bytes
    }

    private enum HeaderValue {
        case string(String)
        case bool(Bool)
        case tuple([Int])
    }

    /// The tiny subset of Python literals `numpy.lib.format` writes.
    private struct HeaderParser {
        struct Invalid: Error {}
        let text: [Unicode.Scalar]
        var i = 0

        mutating func skipSpaces() { while i < text.count, text[i] == " " || text[i] == "\n" || text[i] == "\t" { i += 1 } }

        mutating func expect(_ c: Unicode.Scalar) throws(Invalid) {
            skipSpaces()
            guard i < text.count, text[i] == c else { throw Invalid() }
            i += 1
        }

        mutating func peek() -> Unicode.Scalar? {
            skipSpaces()
            return i < text.count ? text[i] : nil
        }

        mutating func string() throws(Invalid) -> String {
            skipSpaces()
            guard i < text.count, text[i] == "'" || text[i] == "\"" else { throw Invalid() }
            let quote = text[i]
            i += 1
            var s = String.UnicodeScalarView()
            while i < text.count, text[i] != quote { s.append(text[i]); i += 1 }
            guard i < text.count else { throw Invalid() }
            i += 1
            return String(s)
        }

        mutating func integer() throws(Invalid) -> Int {
            skipSpaces()
            var digits = ""
            while i < text.count, ("0"..."9").contains(text[i]) || (digits.isEmpty && text[i] == "-") {
                digits.unicodeScalars.append(text[i])
                i += 1
                guard digits.count <= 20 else { throw Invalid() }
            }
            if i < text.count, text[i] == "L" { i += 1 }
            guard let v = Int(digits) else { throw Invalid() }
            return v
        }

        mutating func value() throws(Invalid) -> HeaderValue {
            switch peek() {
            case "'", "\"": return .string(try string())
            case "T":
                guard text.count - i >= 4, String(String.UnicodeScalarView(text[i..<(i + 4)])) == "True" else { throw Invalid() }
                i += 4
                return .bool(true)
            case "F":
                guard text.count - i >= 5, String(String.UnicodeScalarView(text[i..<(i + 5)])) == "False" else { throw Invalid() }
                i += 5
                return .bool(false)
            case "(":
                i += 1
                var items: [Int] = []
                while peek() != ")" {
                    items.append(try integer())
                    guard items.count <= 64 else { throw Invalid() }
                    if peek() == "," { i += 1 } else { break }
                }
                try expect(")")
                return .tuple(items)
            default: throw Invalid()
            }
        }

        mutating func dict() throws(Invalid) -> [String: HeaderValue] {
            try expect("{")
            var result: [String: HeaderValue] = [:]
            while peek() != "}" {
                let key = try string()
                try expect(":")
                result[key] = try value()
                if peek() == "," { i += 1 } else { break }
            }
            try expect("}")
            return result
        }
    }
}

extension String {
    var trimmingSpaces: String {
        var s = Substring(self)
        while let f = s.first, f.isWhitespace { s.removeFirst() }
        while let l = s.last, l.isWhitespace { s.removeLast() }
        return String(s)
    }
}
