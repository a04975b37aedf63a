/// One stored (uncompressed) entry of a ZIP archive: where its bytes are in the file.
struct ZipEntry: Sendable {
    let name: String
    let dataOffset: Int
    let size: Int
    let crc32: UInt32
}

/// A read-only view of a ZIP archive as `torch.save` writes it: STORED entries, data
/// descriptors, Zip64 records. Only the central directory is trusted for sizes; every offset
/// and length is checked against the file before use.
struct ZipArchive {
    let path: String
    let entries: [ZipEntry]

    private static let eocdSignature: UInt32 = 0x0605_4B50
    private static let zip64LocatorSignature: UInt32 = 0x0706_4B50
    private static let zip64EOCDSignature: UInt32 = 0x0606_4B50
    private static let centralSignature: UInt32 = 0x0201_4B50
    private static let localSignature: UInt32 = 0x0403_4B50

    static func isZip(_ bytes: UnsafeRawBufferPointer) -> Bool {
        bytes.count >= 4 && bytes.loadUnaligned(as: UInt32.self) == UInt32(littleEndian: localSignature)
    }

    init(path: String, bytes: UnsafeRawBufferPointer) throws(BirderIOError) {
        self.path = path
        func fail(_ reason: String) -> BirderIOError { .invalidZip(path: path, reason: reason) }
        let fileSize = bytes.count
        guard fileSize >= 22 else { throw fail("file too short (\(fileSize) bytes) to be a ZIP archive") }

        // The end-of-central-directory record sits in the last 22 + 65535 bytes.
        var eocd = -1
        var candidate = fileSize - 22
        let lowest = max(0, fileSize - 22 - 65535)
        while candidate >= lowest {
            if bytes.loadUnaligned(fromByteOffset: candidate, as: UInt32.self) == UInt32(littleEndian: Self.eocdSignature) {
                let commentLength = Int(UInt16(littleEndian: bytes.loadUnaligned(fromByteOffset: candidate + 20, as: UInt16.self)))
                if candidate + 22 + commentLength == fileSize { eocd = candidate; break }
            }
            candidate -= 1
        }
        guard eocd >= 0 else { throw fail("no end-of-central-directory record (truncated file?)") }

        var entryCount: Int
        var directorySize: Int
        var directoryOffset: Int
        do {
            var r = ByteReader(bytes, at: eocd + 4)
            let disk = try r.u16(), directoryDisk = try r.u16()
            _ = try r.u16()
            entryCount = Int(try r.u16())
            directorySize = Int(try r.u32())
            directoryOffset = Int(try r.u32())
            if disk != 0 && disk != 0xFFFF || directoryDisk != 0 && directoryDisk != 0xFFFF {
                throw fail("multi-disk archives are not supported")
            }
            // Zip64: a locator just before the EOCD points at the real record.
            if eocd >= 20,
               bytes.loadUnaligned(fromByteOffset: eocd - 20, as: UInt32.self) == UInt32(littleEndian: Self.zip64LocatorSignature) {
                var l = ByteReader(bytes, at: eocd - 20 + 8)
                let recordOffset = try l.u64()
                guard eocd - 20 >= 56, recordOffset <= UInt64(eocd - 20 - 56) else {
                    throw fail("Zip64 end-of-central-directory offset \(recordOffset) is out of range")
                }
                var z = ByteReader(bytes, at: Int(recordOffset))
                guard try z.u32() == Self.zip64EOCDSignature else { throw fail("bad Zip64 end-of-central-directory signature") }
                try z.skip(8 + 2 + 2 + 4 + 4)
                let count64 = try z.u64()
                _ = try z.u64()
                let size64 = try z.u64()
                let offset64 = try z.u64()
                guard count64 <= UInt64(fileSize), size64 <= UInt64(fileSize), offset64 <= UInt64(fileSize) else {
                    throw fail("Zip64 directory claims more than the file holds")
                }
                entryCount = Int(count64)
                directorySize = Int(size64)
                directoryOffset = Int(offset64)
            }
        } catch is ByteReader.Truncated {
            throw fail("truncated end-of-central-directory record")
        } catch let error as BirderIOError {
            throw error
        } catch {
            throw fail("\(error)")
        }
        guard directoryOffset <= fileSize, directorySize <= fileSize - directoryOffset else {
            throw fail("central directory (offset \(directoryOffset), \(directorySize) bytes) lies outside the \(fileSize)-byte file")
        }
        guard entryCount <= directorySize / 46 else {
            throw fail("\(entryCount) entries cannot fit a central directory of \(directorySize) bytes")
        }

        var entries: [ZipEntry] = []
        entries.reserveCapacity(entryCount)
        var names = Set<String>()
        var r = ByteReader(UnsafeRawBufferPointer(rebasing: bytes[directoryOffset..<(directoryOffset + directorySize)]))
        do {
            for _ in 0..<entryCount {
                guard try r.u32() == Self.centralSignature else { throw fail("bad central directory entry signature") }
                try r.skip(4)  // versions
                let flags = try r.u16()
                let method = try r.u16()
                try r.skip(4)  // time, date
                let crc = try r.u32()
                var compressedSize = UInt64(try r.u32())
                var size = UInt64(try r.u32())
                let nameLength = Int(try r.u16())
                let extraLength = Int(try r.u16())
                let commentLength = Int(try r.u16())
                try r.skip(8)  // disk, attributes
                var localOffset = UInt64(try r.u32())
                let nameBytes = try r.slice(nameLength)
                let extra = try r.slice(extraLength)
                try r.skip(commentLength)
                let name = String(decoding: nameBytes, as: UTF8.self)
                // Zip64 extended information: present fields replace the 0xFFFFFFFF ones, in order.
                var e = ByteReader(extra)
                while e.remaining >= 4 {
                    let tag = try e.u16()
                    let length = Int(try e.u16())
                    var field = ByteReader(try e.slice(length))
                    if tag == 0x0001 {
                        if size == 0xFFFF_FFFF { size = try field.u64() }
                        if compressedSize == 0xFFFF_FFFF { compressedSize = try field.u64() }
                        if localOffset == 0xFFFF_FFFF { localOffset = try field.u64() }
                    }
                }
                guard flags & 0x1 == 0 else { throw fail("entry '\(name)' is encrypted") }
                guard method == 0 else {
                    throw fail("entry '\(name)' is compressed (method \(method)); only STORED entries, as torch.save writes them, are supported")
                }
                guard compressedSize == size else { throw fail("entry '\(name)' is stored but its sizes differ") }
                guard localOffset <= UInt64(fileSize), UInt64(fileSize) - localOffset >= 30, size <= UInt64(fileSize) else {
                    throw fail("entry '\(name)' claims bytes beyond the end of the file")
                }
                var local = ByteReader(bytes, at: Int(localOffset))
                guard try local.u32() == Self.localSignature else { throw fail("entry '\(name)' has no local header") }
                try local.skip(22)
                let localNameLength = Int(try local.u16())
                let localExtraLength = Int(try local.u16())
                let dataOffset = Int(localOffset) + 30 + localNameLength + localExtraLength
                guard dataOffset <= directoryOffset, Int(size) <= directoryOffset - dataOffset else {
                    throw fail("entry '\(name)' claims \(size) bytes at offset \(dataOffset), past the end of its data")
                }
                guard names.insert(name).inserted else { throw fail("duplicate entry '\(name)'") }
                entries.append(ZipEntry(name: name, dataOffset: dataOffset, size: Int(size), crc32: crc))
            }
        } catch is ByteReader.Truncated {
            throw fail("truncated central directory")
        } catch let error as BirderIOError {
            throw error
        } catch {
            throw fail("\(error)")
        }
        self.entries = entries
    }
}

/// CRC-32 (ISO-HDLC, as ZIP uses), table-driven, four bytes per step.
enum CRC32 {
    private static let tables: [[UInt32]] = {
        var first = [UInt32](repeating: 0, count: 256)
        for i in 0..<256 {
            var c = UInt32(i)
            for _ in 0..<8 { c = c & 1 != 0 ? 0xEDB8_8320 ^ (c >> 1) : c >> 1 }
            first[i] = c
        }
        var tables = [first]
        for t in 1..<4 {
            var table = [UInt32](repeating: 0, count: 256)
            for i in 0..<256 { table[i] = (tables[t - 1][i] >> 8) ^ first[Int(tables[t - 1][i] & 0xFF)] }
            tables.append(table)
        }
        return tables
    }()

    static func checksum(_ bytes: UnsafeRawBufferPointer, initial: UInt32 = 0) -> UInt32 {
        var crc = ~initial
        let t0 = tables[0], t1 = tables[1], t2 = tables[2], t3 = tables[3]
        var i = 0
        let n = bytes.count
        while i + 4 <= n {
            crc ^= UInt32(bytes[i]) | UInt32(bytes[i + 1]) << 8 | UInt32(bytes[i + 2]) << 16 | UInt32(bytes[i + 3]) << 24
            crc = t3[Int(crc & 0xFF)] ^ t2[Int((crc >> 8) & 0xFF)] ^ t1[Int((crc >> 16) & 0xFF)] ^ t0[Int(crc >> 24)]
            i += 4
        }
        while i < n {
            crc = t0[Int((crc ^ UInt32(bytes[i])) & 0xFF)] ^ (crc >> 8)
            i += 1
        }
        return ~crc
    }
}

/// Writes a ZIP archive of STORED entries the way `torch.save` lays them out: each entry's data
/// starts on a 64-byte boundary (padded through the local header's extra field), and Zip64
/// records are written whenever an offset or size needs them (or always, with `forceZip64`).
final class ZipWriter {
    private let file: OutputFile
    private let forceZip64: Bool
    private struct Record {
        let name: [UInt8]
        let offset: Int
        let size: Int
        let crc: UInt32
    }
    private var records: [Record] = []
    static let alignment = 64

    init(file: OutputFile, forceZip64: Bool = false) {
        self.file = file
        self.forceZip64 = forceZip64
    }

    func add(name: String, data: UnsafeRawBufferPointer) throws(BirderIOError) {
        let nameBytes = Array(name.utf8)
        let crc = CRC32.checksum(data)
        let offset = file.offset
        let needs64 = forceZip64 || data.count >= 0xFFFF_FFFF || offset >= 0xFFFF_FFFF
        var header = ByteWriter()
        header.u32(0x0403_4B50)
        header.u16(needs64 ? 45 : 20)  // version needed
        header.u16(0x0800)  // UTF-8 names
        header.u16(0)  // STORED
        header.u16(0); header.u16(0x21)  // time, date (1980-01-01)
        header.u32(crc)
        header.u32(needs64 ? 0xFFFF_FFFF : UInt32(data.count))
        header.u32(needs64 ? 0xFFFF_FFFF : UInt32(data.count))
        header.u16(UInt16(nameBytes.count))
        var extra = ByteWriter()
        if needs64 {
            extra.u16(0x0001); extra.u16(16)
            extra.u64(UInt64(data.count)); extra.u64(UInt64(data.count))
        }
        // Pad through an extra field ("FB", as torch does) so the data is 64-byte aligned.
        let unpadded = offset + 30 + nameBytes.count + extra.count
        if unpadded % Self.alignment != 0 {
            let padding = (Self.alignment - (unpadded + 4) % Self.alignment) % Self.alignment
            extra.u16(0x4246); extra.u16(UInt16(padding))
            extra.append([UInt8](repeating: 0x5A, count: padding))
        }
        header.u16(UInt16(extra.count))
        header.append(nameBytes)
        header.append(extra.bytes)
        try file.write(header.bytes)
        try file.write(data)
        records.append(Record(name: nameBytes, offset: offset, size: data.count, crc: crc))
    }

    func add(name: String, bytes: [UInt8]) throws(BirderIOError) {
        try withBytes(bytes) { (raw) throws(BirderIOError) in try add(name: name, data: raw) }
    }

    func finish() throws(BirderIOError) {
        let directoryOffset = file.offset
        var directory = ByteWriter()
        for record in records {
            let needs64 = forceZip64 || record.size >= 0xFFFF_FFFF || record.offset >= 0xFFFF_FFFF
            directory.u32(0x0201_4B50)
            directory.u16(needs64 ? 45 : 20)  // made by
            directory.u16(needs64 ? 45 : 20)  // needed
            directory.u16(0x0800)
            directory.u16(0)
            directory.u16(0); directory.u16(0x21)
            directory.u32(record.crc)
            directory.u32(needs64 ? 0xFFFF_FFFF : UInt32(record.size))
            directory.u32(needs64 ? 0xFFFF_FFFF : UInt32(record.size))
            directory.u16(UInt16(record.name.count))
            directory.u16(needs64 ? 28 : 0)
            directory.u16(0)  // comment
            directory.u16(0)  // disk
            directory.u16(0)  // internal attributes
            directory.u32(0)  // external attributes
            directory.u32(needs64 ? 0xFFFF_FFFF : UInt32(record.offset))
            directory.append(record.name)
            if needs64 {
                directory.u16(0x0001); directory.u16(24)
                directory.u64(UInt64(record.size)); directory.u64(UInt64(record.size)); directory.u64(UInt64(record.offset))
            }
        }
        try file.write(directory.bytes)
        let directorySize = directory.count
        let zip64End = file.offset
        var tail = ByteWriter()
        let needs64 = forceZip64 || records.count >= 0xFFFF || directoryOffset >= 0xFFFF_FFFF || directorySize >= 0xFFFF_FFFF
        if needs64 {
            tail.u32(0x0606_4B50)
            tail.u64(44)
            tail.u16(45); tail.u16(45)
            tail.u32(0); tail.u32(0)
            tail.u64(UInt64(records.count)); tail.u64(UInt64(records.count))
            tail.u64(UInt64(directorySize)); tail.u64(UInt64(directoryOffset))
            tail.u32(0x0706_4B50)
            tail.u32(0)
            tail.u64(UInt64(zip64End))
            tail.u32(1)
        }
        tail.u32(0x0605_4B50)
        tail.u16(0); tail.u16(0)
        tail.u16(needs64 ? 0xFFFF : UInt16(records.count))
        tail.u16(needs64 ? 0xFFFF : UInt16(records.count))
        tail.u32(needs64 ? 0xFFFF_FFFF : UInt32(directorySize))
        tail.u32(needs64 ? 0xFFFF_FFFF : UInt32(directoryOffset))
        tail.u16(0)
        try file.write(tail.bytes)
    }
}
