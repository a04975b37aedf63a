/// PyTorch's `torch.save` format: a ZIP archive holding `<root>/data.pkl` (pickle protocol 2),
/// `<root>/data/<key>` (raw storages) and `<root>/byteorder`.
package enum TorchFile {
    /// Reads a `.pt` file the way `torch.load(path, weights_only=True)` does, without executing
    /// anything: the pickle becomes a `PickleValue`, tensors borrow the file's bytes read into memory.
    package static func load(_ path: String) throws(BirderIOError) -> PickleValue {
        let file = try FileContents(path: path) { (prefix, _) throws(BirderIOError) in try checkSignature(prefix, path: path) }
        return try load(file)
    }

    /// Refuses what is not a ZIP archive, naming the older torch formats it may be.
    static func checkSignature(_ bytes: UnsafeRawBufferPointer, path: String) throws(BirderIOError) {
        guard ZipArchive.isZip(bytes) else {
            if bytes.count >= 2, bytes[0] == 0x80, bytes[1] <= 5 {
                throw .unsupported(path: path, reason:
                    "legacy (pre-1.6, non-ZIP) torch.save format; re-save it with a current torch (torch.save(torch.load(f), f))")
            }
            if bytes.count >= 262, Array(bytes[257..<262]) == Array("ustar".utf8) {
                throw .unsupported(path: path, reason: "legacy tar torch.save format; re-save it with a current torch")
            }
            throw .invalidContent(path: path, reason: "not a PyTorch checkpoint (no ZIP signature)")
        }
    }

    static func load(_ file: FileContents) throws(BirderIOError) -> PickleValue {
        let path = file.path
        let bytes = file.bytes
        try checkSignature(bytes, path: path)
        let archive = try ZipArchive(path: path, bytes: bytes)
        var byName: [String: ZipEntry] = [:]
        for entry in archive.entries { byName[entry.name] = entry }

        // The single top-level folder's name varies (torch uses the file's stem): find data.pkl.
        let pickles = archive.entries.filter {
            $0.name.hasSuffix("/data.pkl") && $0.name.dropLast("/data.pkl".count).firstIndex(of: "/") == nil
        }
        guard pickles.count <= 1 else { throw .invalidContent(path: path, reason: "more than one */data.pkl in the archive") }
        guard let pickleEntry = pickles.first ?? byName["data.pkl"] else {
            throw .invalidContent(path: path, reason: "not a torch.save archive (no */data.pkl entry)")
        }
        let root = String(pickleEntry.name.dropLast("data.pkl".count))

        var bigEndian = false
        if let entry = byName[root + "byteorder"] {
            let text = String(decoding: UnsafeRawBufferPointer(rebasing: bytes[entry.dataOffset..<(entry.dataOffset + entry.size)]), as: UTF8.self)
            switch text {
            case "little": bigEndian = false
            case "big": bigEndian = true
            default: throw .invalidContent(path: path, reason: "unknown byte order '\(text)'")
            }
        }

        var storages: [String: StorageBuffer] = [:]
        let loadStorage = { (request: StorageRequest) throws(BirderIOError) -> StorageBuffer in
            if let existing = storages[request.key] {
                guard existing.dtype == request.dtype, existing.count == request.count else {
                    throw .invalidPickle(path: path, reason: "storage '\(request.key)' is referenced with two different types or sizes")
                }
                return existing
            }
            guard let entry = byName[root + "data/" + request.key] else {
                throw .invalidContent(path: path, reason: "storage '\(request.key)' has no \(root)data/\(request.key) entry")
            }
            let (needed, overflow) = request.count.multipliedReportingOverflow(by: request.dtype.byteSize)
            // torch.load requires the record to hold exactly numel × element size bytes.
            guard !overflow, needed == entry.size else {
                throw .invalidTensor(path: path, name: "", reason:
                    "\(request.count) \(request.dtype) elements need \(overflow ? "more than Int.max" : String(needed)) bytes but the entry holds \(entry.size)")
            }
            let buffer = StorageBuffer(dtype: request.dtype, count: request.count,
                                       base: bytes.baseAddress.map { UnsafeRawPointer($0 + entry.dataOffset) },
                                       isBigEndian: bigEndian && request.dtype.byteSize > 1, owner: file)
            storages[request.key] = buffer
            return buffer
        }
        let pickleBytes = UnsafeRawBufferPointer(rebasing: bytes[pickleEntry.dataOffset..<(pickleEntry.dataOffset + pickleEntry.size)])
        var unpickler = Unpickler(path: path, bytes: pickleBytes, loadStorage: loadStorage)
        return try unpickler.load()
    }

    /// Writes `value` as `torch.save` does (ZIP of STORED, 64-byte aligned entries; pickle
    /// protocol 2; little-endian storages), loadable by `torch.load(..., weights_only=True)`.
    /// Tensors sharing a `StorageBuffer` share one storage in the file, views keep their strides.
    package static func write(_ value: PickleValue, to path: String, forceZip64: Bool = false) throws(BirderIOError) {
        var pickler = Pickler()
        pickler.write(value)
        let output = try OutputFile(path: path)
        let zip = ZipWriter(file: output, forceZip64: forceZip64)
        let root = archiveName(for: path)
        try zip.add(name: root + "/data.pkl", bytes: pickler.bytes)
        try zip.add(name: root + "/.format_version", bytes: Array("1".utf8))
        try zip.add(name: root + "/.storage_alignment", bytes: Array("64".utf8))
        try zip.add(name: root + "/byteorder", bytes: Array("little".utf8))
        for (key, storage) in pickler.storages.enumerated() {
            if storage.isBigEndian {
                let swapped: [UInt8]
                do {
                    swapped = try StoredTensor(storage: storage, shape: [storage.count]).contiguousBytes()
                } catch {
                    throw .io(path: path, reason: "storage \(key): \(error)")
                }
                try zip.add(name: root + "/data/\(key)", bytes: swapped)
            } else {
                try zip.add(name: root + "/data/\(key)", data: storage.rawBytes)
            }
        }
        try zip.add(name: root + "/version", bytes: Array("3\n".utf8))
        try zip.finish()
        try output.commit()
    }

    /// torch names the archive's folder after the file (its stem).
    static func archiveName(for path: String) -> String {
        let base = path.split(separator: "/").last.map(String.init) ?? "archive"
        let stem = base.firstIndex(of: ".").map { String(base[..<$0]) } ?? base
        let cleaned = String(stem.unicodeScalars.filter { $0.isASCII && ($0.properties.isAlphabetic || $0.properties.numericType != nil || $0 == "_" || $0 == "-") })
        return cleaned.isEmpty ? "archive" : cleaned
    }
}

/// Pickle protocol 2 encoder for the values a checkpoint holds.
struct Pickler {
    private var out = ByteWriter()
    private(set) var storages: [StorageBuffer] = []
    private var storageKeys: [ObjectIdentifier: Int] = [:]

    var bytes: [UInt8] { out.bytes }

    mutating func write(_ value: PickleValue) {
        out.u8(0x80); out.u8(2)
        encode(value)
        out.u8(0x2E)
    }

    private mutating func global(_ fullName: String) {
        guard let dot = fullName.lastIndex(of: "."), dot != fullName.startIndex, fullName.index(after: dot) != fullName.endIndex else {
            preconditionFailure("Pickler: global '\(fullName)' is not of the form module.name")
        }
        out.u8(0x63)
        out.append(String(fullName[..<dot]) + "\n" + String(fullName[fullName.index(after: dot)...]) + "\n")
    }

    private mutating func string(_ s: String) {
        let utf8 = Array(s.utf8)
        out.u8(0x58); out.u32(UInt32(utf8.count)); out.append(utf8)
    }

    private mutating func int(_ v: Int) {
        if v >= 0 && v < 0x100 {
            out.u8(0x4B); out.u8(UInt8(v))
        } else if v >= 0 && v < 0x10000 {
            out.u8(0x4D); out.u16(UInt16(v))
        } else if let small = Int32(exactly: v) {
            out.u8(0x4A); out.i32(small)
        } else {
            // LONG1: shortest little-endian two's complement.
            var bytes: [UInt8] = withUnsafeBytes(of: Int64(v).littleEndian) { Array($0) }
            while bytes.count > 1 {
                let last = bytes[bytes.count - 1], previous = bytes[bytes.count - 2]
                if (last == 0 && previous & 0x80 == 0) || (last == 0xFF && previous & 0x80 != 0) { bytes.removeLast() } else { break }
            }
            out.u8(0x8A); out.u8(UInt8(bytes.count)); out.append(bytes)
        }
    }

    private mutating func tuple(_ items: [PickleValue]) {
        switch items.count {
        case 0: out.u8(0x29)
        case 1...3:
            for item in items { encode(item) }
            out.u8(0x84 + UInt8(items.count))
        default:
            out.u8(0x28)
            for item in items { encode(item) }
            out.u8(0x74)
        }
    }

    private mutating func emptyOrderedDict() {
        global("collections.OrderedDict"); out.u8(0x29); out.u8(0x52)
    }

    mutating func encode(_ value: PickleValue) {
        switch value {
        case .none: out.u8(0x4E)
        case .bool(let b): out.u8(b ? 0x88 : 0x89)
        case .int(let i): int(i)
        case .float(let d): out.u8(0x47); out.f64BigEndian(d)
        case .string(let s): string(s)
        case .bytes(let b):
            global("_codecs.encode")
            var latin1 = String.UnicodeScalarView()
            for byte in b { latin1.append(Unicode.Scalar(byte)) }
            string(String(latin1)); string("latin1"); out.u8(0x86); out.u8(0x52)
        case .list(let items):
            out.u8(0x5D)
            for start in stride(from: 0, to: items.count, by: 1000) {
                out.u8(0x28)
                for item in items[start..<min(start + 1000, items.count)] { encode(item) }
                out.u8(0x65)
            }
        case .tuple(let items): tuple(items)
        case .set(let items):
            global("builtins.set"); encode(.list(items)); out.u8(0x85); out.u8(0x52)
        case .dict(let dict):
            switch dict.kind {
            case .dict: out.u8(0x7D)
            case .orderedDict: emptyOrderedDict()
            case .counter: global("collections.Counter"); out.u8(0x29); out.u8(0x52)
            }
            for start in stride(from: 0, to: dict.entries.count, by: 1000) {
                out.u8(0x28)
                for entry in dict.entries[start..<min(start + 1000, dict.entries.count)] {
                    encode(entry.key); encode(entry.value)
                }
                out.u8(0x75)
            }
        case .global(let name): global(name)
        case .object(let name, let args):
            global(name); tuple(args); out.u8(0x52)
        case .tensor(let tensor):
            let storage = tensor.storage
            let key: Int
            if let existing = storageKeys[ObjectIdentifier(storage)] {
                key = existing
            } else {
                key = storages.count
                storageKeys[ObjectIdentifier(storage)] = key
                storages.append(storage)
            }
            global("torch._utils._rebuild_tensor_v2")
            out.u8(0x28)
            // Persistent id ('storage', torch.FloatStorage, key, 'cpu', numel).
            out.u8(0x28)
            string("storage"); global("torch.\(storage.dtype.torchStorageName)"); string(String(key)); string("cpu"); int(storage.count)
            out.u8(0x74); out.u8(0x51)
            int(tensor.storageOffset)
            tuple(tensor.shape.map { .int($0) })
            tuple(tensor.strides.map { .int($0) })
            out.u8(0x89)  // requires_grad False
            emptyOrderedDict()  // backward hooks
            out.u8(0x74); out.u8(0x52)
        }
    }
}
