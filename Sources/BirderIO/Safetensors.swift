/// The safetensors format: an 8-byte little-endian header length, a JSON header
/// (`name: {dtype, shape, data_offsets}` and an optional `__metadata__` of strings), then the data.
public enum Safetensors {
    /// Headers above this are refused (the safetensors library's own limit).
    public static let maxHeaderSize = 100_000_000

    public struct File: Sendable {
        public var tensors: StateDict
        public var metadata: [String: String]
    }

    /// `prefix`: the file's first bytes; `size`: its total size.
    static func looksLikeSafetensors(_ prefix: UnsafeRawBufferPointer, size: Int) -> Bool {
        guard prefix.count >= 10, size >= 10 else { return false }
        let n = UInt64(littleEndian: prefix.loadUnaligned(as: UInt64.self))
        return n <= UInt64(size - 8) && prefix[8] == UInt8(ascii: "{")
    }

    public static func load(_ path: String) throws(BirderIOError) -> File {
        try load(try FileContents(path: path) { (prefix, size) throws(BirderIOError) in try checkHeaderLength(prefix, size: size, path: path) })
    }

    /// The header length must fit the file and the library's limit; checked on the first bytes so
    /// a file that cannot be safetensors is refused before the rest of it is read.
    static func checkHeaderLength(_ prefix: UnsafeRawBufferPointer, size: Int, path: String) throws(BirderIOError) {
        func fail(_ reason: String) -> BirderIOError { .invalidSafetensors(path: path, reason: reason) }
        guard size >= 8, prefix.count >= 8 else { throw fail("file too short (\(size) bytes) for a header length") }
        let headerLength = UInt64(littleEndian: prefix.loadUnaligned(as: UInt64.self))
        guard headerLength <= UInt64(maxHeaderSize) else { throw fail("header length \(headerLength) exceeds \(maxHeaderSize) bytes") }
        guard headerLength <= UInt64(size - 8) else {
            throw fail("header length \(headerLength) exceeds the \(size - 8) bytes after it")
        }
    }

    static func load(_ file: FileContents) throws(BirderIOError) -> File {
        let path = file.path
        func fail(_ reason: String) -> BirderIOError { .invalidSafetensors(path: path, reason: reason) }
        let bytes = file.bytes
        try checkHeaderLength(bytes, size: bytes.count, path: path)
        let headerLength = UInt64(littleEndian: bytes.loadUnaligned(as: UInt64.self))
        let dataStart = 8 + Int(headerLength)
        let dataSize = bytes.count - dataStart
        let header: JSONValue
        do {
            header = try JSONValue.parse(UnsafeRawBufferPointer(rebasing: bytes[8..<dataStart]))
        } catch {
            throw fail("header is not valid JSON: \(error)")
        }
        guard case .object(let members) = header else { throw fail("header is not a JSON object") }

        var metadata: [String: String] = [:]
        struct Pending { let name: String; let dtype: DType; let shape: [Int]; let begin: Int; let end: Int }
        var pending: [Pending] = []
        var seen = Set<String>()
        for member in members {
            guard seen.insert(member.key).inserted else { throw fail("duplicate key '\(member.key)'") }
            if member.key == "__metadata__" {
                guard case .object(let items) = member.value else { throw fail("__metadata__ is not an object") }
                for item in items {
                    guard case .string(let value) = item.value else { throw fail("__metadata__ value '\(item.key)' is not a string") }
                    metadata[item.key] = value
                }
                continue
            }
            let name = member.key
            guard let dtypeName = member.value["dtype"]?.stringValue else { throw fail("tensor '\(name)' has no dtype") }
            guard let dtype = DType(safetensorsName: dtypeName) else {
                throw .unsupported(path: path, reason: "tensor '\(name)' has dtype \(dtypeName)")
            }
            guard let shapeItems = member.value["shape"]?.arrayValue, shapeItems.count <= 64 else {
                throw fail("tensor '\(name)' has no valid shape")
            }
            var shape: [Int] = []
            var count = 1
            for item in shapeItems {
                guard let dim = item.intValue, dim >= 0 else { throw fail("tensor '\(name)' has a negative or non-integer dimension") }
                let (product, overflow) = count.multipliedReportingOverflow(by: dim)
                guard !overflow else { throw fail("tensor '\(name)': element count of shape \(JSONValue.array(shapeItems).brief()) overflows") }
                count = product
                shape.append(dim)
            }
            guard let offsets = member.value["data_offsets"]?.arrayValue, offsets.count == 2,
                  let begin = offsets[0].intValue, let end = offsets[1].intValue else {
                throw fail("tensor '\(name)' has no valid data_offsets")
            }
            guard begin >= 0, begin <= end, end <= dataSize else {
                throw fail("tensor '\(name)': data_offsets [\(begin), \(end)] lie outside the \(dataSize)-byte data block")
            }
            let (byteCount, overflow) = count.multipliedReportingOverflow(by: dtype.byteSize)
            guard !overflow, byteCount == end - begin else {
                throw fail("tensor '\(name)': \(dtypeName) \(shape) needs \(overflow ? "too many" : String(byteCount)) bytes, data_offsets give \(end - begin)")
            }
            pending.append(Pending(name: name, dtype: dtype, shape: shape, begin: begin, end: end))
        }
        // The data block must be covered exactly, in order, without overlaps or holes.
        var position = 0
        for item in pending.sorted(by: { ($0.begin, $0.end) < ($1.begin, $1.end) }) {
            guard item.begin == position else {
                throw fail(item.begin < position
                    ? "tensor '\(item.name)' overlaps the tensor before it (offset \(item.begin) < \(position))"
                    : "hole in the data block before tensor '\(item.name)' (offset \(item.begin), expected \(position))")
            }
            position = item.end
        }
        guard position == dataSize else { throw fail("data block has \(dataSize - position) bytes no tensor covers") }

        let base = bytes.baseAddress.map { UnsafeRawPointer($0) }
        var entries: [(String, StoredTensor)] = []
        for item in pending {
            let storage = StorageBuffer(dtype: item.dtype, count: (item.end - item.begin) / item.dtype.byteSize,
                                        base: base.map { $0 + dataStart + item.begin }, owner: file)
            do {
                entries.append((item.name, try StoredTensor(storage: storage, shape: item.shape)))
            } catch {
                throw .invalidTensor(path: path, name: item.name, reason: error.description)
            }
        }
        return File(tensors: StateDict(path: path, entries), metadata: metadata)
    }

    /// The bytes before the data block: the header's length and the JSON header (padded to 8 bytes)
    /// for tensors laid out back to back in the order given.
    package static func header(_ tensors: [(name: String, dtype: DType, shape: [Int])], metadata: [String: String]) -> [UInt8] {
        var members: [JSONMember] = []
        if !metadata.isEmpty {
            members.append(JSONMember("__metadata__", .object(metadata.keys.sorted().map { JSONMember($0, .string(metadata[$0]!)) })))
        }
        var offset = 0
        for (name, dtype, shape) in tensors {
            let bytes = shape.reduce(dtype.byteSize, *)
            members.append(JSONMember(name, .object([
                JSONMember("dtype", .string(dtype.safetensorsName)),
                JSONMember("shape", .array(shape.map { .int($0) })),
                JSONMember("data_offsets", .array([.int(offset), .int(offset + bytes)])),
            ])))
            offset += bytes
        }
        var header = Array(JSONValue.object(members).serialized(pythonStyle: false).utf8)
        while (8 + header.count) % 8 != 0 { header.append(UInt8(ascii: " ")) }
        var prefix = ByteWriter()
        prefix.u64(UInt64(header.count))
        return prefix.bytes + header
    }

    /// Writes the tensors (made contiguous) and string metadata. Tensors are laid out by
    /// decreasing element size, so every tensor's data stays aligned to its element size.
    public static func write(_ tensors: StateDict, metadata: [String: String] = [:], to path: String) throws(BirderIOError) {
        let ordered = tensors.entries.enumerated().sorted {
            ($0.element.tensor.dtype.byteSize, -$0.offset) > ($1.element.tensor.dtype.byteSize, -$1.offset)
        }.map(\.element)
        let header = self.header(ordered.map { ($0.name, $0.tensor.dtype, $0.tensor.shape) }, metadata: metadata)
        let output = try OutputFile(path: path)
        try output.write(header)
        for (_, tensor) in ordered {
            if tensor.isContiguous, !tensor.storage.isBigEndian, let base = tensor.storage.base {
                try output.write(UnsafeRawBufferPointer(start: base + tensor.storageOffset * tensor.dtype.byteSize, count: tensor.byteCount))
            } else {
                try output.write(tensor.contiguousBytes())
            }
        }
        try output.commit()
    }
}
