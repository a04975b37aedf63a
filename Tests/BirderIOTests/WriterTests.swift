import Foundation
import Testing
import BirderCore
import BirderTestSupport
@testable import BirderIO

@Suite struct WriterTests {
    /// Everything tensors.pt holds, written again by TorchFile.write, reads back identical —
    /// dtypes, views (strides, offsets) and shared storages included.
    @Test(arguments: [false, true]) func ptRoundTripKeepsEverything(forceZip64: Bool) throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let original = try TorchFile.load(ioFixture("tensors.pt"))
        let path = dir.appendingPathComponent("copy.pt").path
        try TorchFile.write(original, to: path, forceZip64: forceZip64)
        let expected = try expectedJSON("tensors.expected.json")
        let back = try #require(try TorchFile.load(path).dictValue)
        #expect(back.kind == .orderedDict && back.count == 19)
        for entry in back.entries {
            let name = try #require(entry.key.stringValue)
            expectMatches(try #require(entry.value.tensorValue), try #require(expected["tensors"]?[name]), "rewritten \(name)")
        }
        let a = try #require(back["shared_a"]?.tensorValue), b = try #require(back["shared_b"]?.tensorValue)
        #expect(a.storage === b.storage && b.storageOffset == 3)
        #expect(back["transposed"]?.tensorValue?.strides == [1, 6])
        // Storages are 64-byte aligned in the archive, as torch writes them.
        let file = try FileContents(path: path)
        let archive = try ZipArchive(path: path, bytes: file.bytes)
        for entry in archive.entries where entry.name.contains("/data/") {
            #expect(entry.dataOffset % 64 == 0, "\(entry.name) at \(entry.dataOffset)")
            let crc = CRC32.checksum(UnsafeRawBufferPointer(rebasing: file.bytes[entry.dataOffset..<(entry.dataOffset + entry.size)]))
            #expect(crc == entry.crc32)
        }
    }

    @Test func bigEndianSourceIsWrittenLittleEndian() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("le.pt").path
        try TorchFile.write(try TorchFile.load(ioFixture("bigendian.pt")), to: path)
        let expected = try expectedJSON("tensors.expected.json")
        let back = try #require(try TorchFile.load(path).dictValue)
        for entry in back.entries {
            let tensor = try #require(entry.value.tensorValue)
            #expect(!tensor.storage.isBigEndian)
            expectMatches(tensor, try #require(expected["tensors"]?[entry.key.stringValue!]), "swapped \(entry.key)")
        }
    }

    @Test func plainValuesRoundTrip() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("values.pt").path
        let original = try TorchFile.load(ioFixture("structures.pt"))
        try TorchFile.write(original, to: path)
        let back = try TorchFile.load(path)
        let keys = ["text", "small", "medium", "negative", "big", "very_negative", "float", "none", "yes", "no",
                    "list", "tuple", "nested", "set", "size", "ordered", "counter"]
        for key in keys {
            #expect(back[key]?.jsonValue == original[key]?.jsonValue, "\(key)")
            #expect(back[key]?.jsonValue != nil, "\(key)")
        }
        if case .bytes(let b)? = back["bytes"] { #expect(b == [0x61, 0x62, 0x00, 0xFF]) } else { Issue.record("bytes") }
        if case .global(let g)? = back["dtype"] { #expect(g == "torch.float16") } else { Issue.record("dtype") }
        if case .object(let type, _)? = back["device"] { #expect(type == "torch.device") } else { Issue.record("device") }
        #expect(back["counter"]?.dictValue?.kind == .counter)
        #expect(back["tensor_in_list"]?.sequenceValue?.first?.tensorValue?.float32Tensor().scalars == [1, 2])
    }

    @Test(arguments: [Checkpoint.Format.pt, .safetensors]) func checkpointRoundTrip(format: Checkpoint.Format) throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let original = try Checkpoint.load(ioFixture("tiny_rdnet_3.pt"))
        let path = dir.appendingPathComponent("again.\(format.rawValue)").path
        try original.write(to: path, format: format)
        let back = try Checkpoint.load(path)
        #expect(back.signature == original.signature)
        #expect(back.classNames == original.classNames)
        #expect(back.rgbStats == original.rgbStats)
        #expect(back.config == original.config)
        #expect(back.birderVersion == original.birderVersion && back.task == original.task)
        #expect(Set(back.state.names) == Set(original.state.names))
        var maxDiff: Float = 0
        for name in original.state.names {
            let a = try original.state.float32Tensor(named: name), b = try back.state.float32Tensor(named: name)
            #expect(a.shape == b.shape)
            maxDiff = max(maxDiff, maxAbsDifference(a.scalars, b.scalars).maxDiff)
        }
        print("checkpoint \(format) round trip: max difference \(maxDiff)")
        #expect(maxDiff == 0)
    }

    @Test func headRoundTripAndValidation() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        var random = TestRandom(seed: 3)
        let head = Head(weight: Tensor(shape: [3, 5], values: random.floats(15)), bias: Tensor(shape: [3], values: random.floats(3)),
                        classNames: ["b", "a", "c"], birderVersion: "v0.8.4")
        let path = dir.appendingPathComponent("x.head.pt").path
        try head.write(to: path)
        let back = try Head.load(path)
        #expect(back.weight.scalars == head.weight.scalars && back.bias.scalars == head.bias.scalars)
        #expect(back.classNames == ["b", "a", "c"] && back.birderVersion == "v0.8.4")
        guard case .head = try WeightsFile.open(path) else { Issue.record("not recognised as a head"); return }

        // A head whose class list disagrees with its weight is refused.
        let bad = dir.appendingPathComponent("bad.head.pt").path
        let state = StateDict(float32: [("weight", Tensor(shape: [2, 4], repeating: 1)), ("bias", Tensor(shape: [2], repeating: 0))])
        try TorchFile.write(.dict(PickleDict([("state", state.pickleValue),
                                              ("class_to_idx", .dict(PickleDict([("only", PickleValue.int(0))])))])), to: bad)
        let error = expectIOError { _ = try Head.load(bad) }
        #expect(error?.description.contains("2 outputs but class_to_idx has 1") == true)
        // Indices must be 0..<N, each once.
        try TorchFile.write(.dict(PickleDict([("state", state.pickleValue),
                                              ("class_to_idx", .dict(PickleDict([("x", PickleValue.int(0)), ("y", .int(5))])))])), to: bad)
        let gap = expectIOError { _ = try Head.load(bad) }
        #expect(gap?.description.contains("class_to_idx indices") == true)
        // A bias of the wrong length.
        let wrong = StateDict(float32: [("weight", Tensor(shape: [2, 4], repeating: 1)), ("bias", Tensor(shape: [3], repeating: 0))])
        try TorchFile.write(.dict(PickleDict([("state", wrong.pickleValue),
                                              ("class_to_idx", .dict(PickleDict([("x", PickleValue.int(0)), ("y", .int(1))])))])), to: bad)
        let shapes = expectIOError { _ = try Head.load(bad) }
        #expect(shapes?.description.contains("do not agree") == true)
    }

    @Test func safetensorsRoundTripAllDtypes() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let source = try #require(try TorchFile.load(ioFixture("tensors.pt")).dictValue)
        let state = StateDict(source.entries.map { ($0.key.stringValue!, $0.value.tensorValue!) })
        let path = dir.appendingPathComponent("all.safetensors").path
        try Safetensors.write(state, metadata: ["note": "ünïcode \"quoted\""], to: path)
        let back = try Safetensors.load(path)
        #expect(back.metadata == ["note": "ünïcode \"quoted\""])
        let expected = try expectedJSON("tensors.expected.json")
        for name in state.names {
            let tensor = try #require(back.tensors[name])
            #expect(tensor.isContiguous)
            expectMatches(tensor, try #require(expected["tensors"]?[name]), "safetensors \(name)")
        }
        let plain = try Safetensors.load(ioFixture("plain.safetensors"))
        #expect(plain.metadata == ["k": "v"])
        #expect(try plain.tensors.float32Tensor(named: "a").scalars == [0, 1, 2, 3, 4, 5])
        #expect(try plain.tensors.float32Tensor(named: "b").scalars == [1, 2, 3, 4])
    }

    @Test func npyReadAndWrite() throws {
        let expected = try expectedJSON("npy.expected.json")
        let f32 = try #require(expected["f32"]?.arrayValue).map { Float($0.doubleValue!) }
        #expect(try NPY.readFloat32(ioFixture("f32.npy")).scalars == f32)
        #expect(try NPY.readFloat32(ioFixture("fortran.npy")).scalars == f32)
        #expect(try NPY.readFloat32(ioFixture("bigendian.npy")).scalars == f32)
        #expect(try NPY.readFloat32(ioFixture("f32.npy")).shape == [3, 4])
        let f64 = try NPY.read(ioFixture("f64.npy"))
        #expect(f64.dtype == .float64 && f64.doubles() == expected["f64"]?.arrayValue?.compactMap(\.doubleValue))
        let i64 = try NPY.read(ioFixture("i64.npy"))
        #expect(i64.int64s() == [-3, 1 << 40, 5, 0] && i64.shape == [2, 2])

        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        var random = TestRandom(seed: 11)
        for shape in [[7, 5], [4], [2, 3, 4], []] {
            let count = shape.reduce(1, *)
            let tensor = Tensor(shape: shape, values: random.floats(count))
            let path = dir.appendingPathComponent("t.npy").path
            try NPY.write(tensor, to: path)
            let bytes = try Data(contentsOf: URL(fileURLWithPath: path))
            #expect(Array(bytes.prefix(8)) == [0x93] + Array("NUMPY".utf8) + [1, 0])
            let headerLength = Int(bytes[8]) | Int(bytes[9]) << 8
            #expect((10 + headerLength) % 64 == 0 && bytes.count == 10 + headerLength + 4 * count)
            let back = try NPY.readFloat32(path)
            #expect(back.shape == shape && back.scalars == tensor.scalars)
        }
        let truncatedPath = dir.appendingPathComponent("short.npy").path
        try Data(try Data(contentsOf: URL(fileURLWithPath: ioFixture("f32.npy"))).dropLast(5)).write(to: URL(fileURLWithPath: truncatedPath))
        let error = expectIOError { _ = try NPY.read(truncatedPath) }
        #expect(error?.description.contains("needs 48 bytes") == true)
    }

    @Test func halfPrecisionConversions() {
        // Every half value converts exactly and back.
        var mismatches = 0
        for bits in 0...UInt16.max {
            let f = floatFromHalfBits(bits)
            if f.isNaN { continue }
            if halfBitsFromFloat(f) != bits { mismatches += 1 }
        }
        #expect(mismatches == 0)
        #expect(floatFromHalfBits(0x3C00) == 1 && floatFromHalfBits(0xC000) == -2 && floatFromHalfBits(0x7BFF) == 65504)
        #expect(floatFromHalfBits(0x0001) == Float(sign: .plus, exponent: -24, significand: 1))
        #expect(floatFromHalfBits(0x7C00) == .infinity && floatFromHalfBits(0x7E00).isNaN)
        // Rounding to nearest even.
        #expect(halfBitsFromFloat(1 + 1.0 / 2048) == 0x3C00 && halfBitsFromFloat(1 + 3.0 / 2048) == 0x3C02)
        #expect(halfBitsFromFloat(1e6) == 0x7C00)
        #expect(floatFromBFloat16Bits(0x3F80) == 1 && floatFromBFloat16Bits(0xC049) == -3.140625)
    }

    @Test func jsonParseAndSerialize() throws {
        let text = #"{"a": [1, -2.5e3, true, null, "x\u00e9\ud83d\ude00\n"], "b": {"c": 9007199254740993}}"#
        let value = try JSONValue.parse(text)
        #expect(value["a"]?.arrayValue?.count == 5)
        #expect(value["a"]?.arrayValue?[1] == .double(-2500))
        #expect(value["a"]?.arrayValue?[4] == .string("xé😀\n"))
        #expect(value["b"]?["c"] == .int(9_007_199_254_740_993))
        // Python's json.dumps spelling.
        #expect(value.serialized() == #"{"a": [1, -2500.0, true, null, "x\u00e9\ud83d\ude00\n"], "b": {"c": 9007199254740993}}"#)
        #expect(try JSONValue.parse(value.serialized()) == value)
        #expect(throws: (any Error).self) { try JSONValue.parse("[1, 2") }
        #expect(throws: (any Error).self) { try JSONValue.parse("{\"a\" 1}") }
        #expect(throws: (any Error).self) { try JSONValue.parse(String(repeating: "[", count: 100) + String(repeating: "]", count: 100)) }
    }
}
