/// Bounds-checked reads from a byte buffer. Every read reports running past the end instead of
/// trapping, so hostile lengths become errors.
struct ByteReader {
    struct Truncated: Error {}

    let bytes: UnsafeRawBufferPointer
    var position: Int

    init(_ bytes: UnsafeRawBufferPointer, at position: Int = 0) {
        self.bytes = bytes
        self.position = position
    }

    var remaining: Int { bytes.count - position }
    var atEnd: Bool { position >= bytes.count }

    mutating func skip(_ n: Int) throws(Truncated) {
        guard n >= 0, n <= remaining else { throw Truncated() }
        position += n
    }

    mutating func u8() throws(Truncated) -> UInt8 {
        guard remaining >= 1 else { throw Truncated() }
        defer { position += 1 }
        return bytes[position]
    }

    mutating func u16() throws(Truncated) -> UInt16 {
        guard remaining >= 2 else { throw Truncated() }
        defer { position += 2 }
        return UInt16(littleEndian: bytes.loadUnaligned(fromByteOffset: position, as: UInt16.self))
    }

    mutating func u32() throws(Truncated) -> UInt32 {
        guard remaining >= 4 else { throw Truncated() }
        defer { position += 4 }
        return UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: position, as: UInt32.self))
    }

    mutating func u64() throws(Truncated) -> UInt64 {
        guard remaining >= 8 else { throw Truncated() }
        defer { position += 8 }
        return UInt64(littleEndian: bytes.loadUnaligned(fromByteOffset: position, as: UInt64.self))
    }

    mutating func i32() throws(Truncated) -> Int32 { Int32(bitPattern: try u32()) }

    mutating func f64BigEndian() throws(Truncated) -> Double {
        guard remaining >= 8 else { throw Truncated() }
        defer { position += 8 }
        return Double(bitPattern: UInt64(bigEndian: bytes.loadUnaligned(fromByteOffset: position, as: UInt64.self)))
    }

    /// `n` bytes as a slice of the underlying buffer (no copy).
    mutating func slice(_ n: Int) throws(Truncated) -> UnsafeRawBufferPointer {
        guard n >= 0, n <= remaining else { throw Truncated() }
        defer { position += n }
        return UnsafeRawBufferPointer(rebasing: bytes[position..<(position + n)])
    }

    /// Bytes up to (not including) the next newline, which is consumed.
    mutating func line(maxLength: Int) throws(Truncated) -> UnsafeRawBufferPointer {
        var end = position
        while end < bytes.count, bytes[end] != 0x0A {
            end += 1
            if end - position > maxLength { throw Truncated() }
        }
        guard end < bytes.count else { throw Truncated() }
        let result = UnsafeRawBufferPointer(rebasing: bytes[position..<end])
        position = end + 1
        return result
    }
}

/// Growable output buffer for the writers.
struct ByteWriter {
    var bytes: [UInt8] = []

    var count: Int { bytes.count }

    mutating func u8(_ v: UInt8) { bytes.append(v) }
    mutating func u16(_ v: UInt16) { withUnsafeBytes(of: v.littleEndian) { bytes.append(contentsOf: $0) } }
    mutating func u32(_ v: UInt32) { withUnsafeBytes(of: v.littleEndian) { bytes.append(contentsOf: $0) } }
    mutating func u64(_ v: UInt64) { withUnsafeBytes(of: v.littleEndian) { bytes.append(contentsOf: $0) } }
    mutating func i32(_ v: Int32) { u32(UInt32(bitPattern: v)) }
    mutating func f64BigEndian(_ v: Double) { withUnsafeBytes(of: v.bitPattern.bigEndian) { bytes.append(contentsOf: $0) } }
    mutating func append(_ data: some Sequence<UInt8>) { bytes.append(contentsOf: data) }
    mutating func append(_ text: String) { bytes.append(contentsOf: Array(text.utf8)) }
}

/// `Array.withUnsafeBytes` with a typed-throwing body (the standard one only rethrows `any Error`).
func withBytes<R, E: Error>(_ bytes: [UInt8], _ body: (UnsafeRawBufferPointer) throws(E) -> R) throws(E) -> R {
    let result: Result<R, E> = bytes.withUnsafeBytes { raw in Result { () throws(E) -> R in try body(raw) } }
    return try result.get()
}
