import Foundation
import Testing
import BirderCore
import BirderTestSupport
@testable import BirderIO

@Suite struct TorchReaderTests {
    @Test func everyDtypeAndLayoutMatchesTorch() throws {
        let expected = try expectedJSON("tensors.expected.json")
        let value = try TorchFile.load(ioFixture("tensors.pt"))
        let dict = try #require(value.dictValue)
        #expect(dict.kind == .orderedDict)
        let order = try #require(expected["tensors_order"]?.arrayValue).compactMap(\.stringValue)
        #expect(dict.entries.compactMap(\.key.stringValue) == order)
        let state = StateDict(path: "tensors.pt", dict.entries.map { ($0.key.stringValue!, $0.value.tensorValue!) })
        var checked = 0
        for name in order {
            let tensor = try #require(state[name], "\(name) missing")
            expectMatches(tensor, try #require(expected["tensors"]?[name]), name)
            checked += 1
        }
        #expect(checked == 19)
        print("tensors.pt: \(checked) tensors, every value equal to torch's (max difference 0)")
    }

    @Test func viewsKeepTheirLayoutAndShareStorage() throws {
        let dict = try #require(try TorchFile.load(ioFixture("tensors.pt")).dictValue)
        let transposed = try #require(dict["transposed"]?.tensorValue)
        #expect(transposed.shape == [6, 4] && transposed.strides == [1, 6] && !transposed.isContiguous)
        let sliced = try #require(dict["sliced"]?.tensorValue)
        #expect(sliced.storageOffset == 8 && sliced.strides == [6, 1])
        let a = try #require(dict["shared_a"]?.tensorValue), b = try #require(dict["shared_b"]?.tensorValue)
        #expect(a.storage === b.storage, "two tensors over one storage share one buffer")
        #expect(b.storageOffset == 3)
        // The transposed view converts to the same values as a contiguous copy in torch.
        let t = transposed.float32Tensor()
        #expect(t.shape == [6, 4])
        #expect(t[flat: 1] == 6.0 / 8 && t[flat: 4] == 1.0 / 8)
    }

    @Test func contiguousFloat32BorrowsTheFileBytes() throws {
        let dict = try #require(try TorchFile.load(ioFixture("tensors.pt")).dictValue)
        let stored = try #require(dict["big_rand"]?.tensorValue)
        let first = stored.float32Tensor(), second = stored.float32Tensor()
        let base = try #require(stored.storage.base)
        // No copy: the tensor points into the bytes read from the file, and both share one TensorStorage.
        #expect(UnsafeRawPointer(first.storage.baseAddress) == base)
        #expect(first.storage === second.storage)
        // Writing to a borrowed tensor copies first (the storage is shared with the StoredTensor).
        var mutated = first
        mutated.withUnsafeMutableBufferPointer { $0[0] = 1234 }
        #expect(first[flat: 0] != 1234 && stored.float32Tensor()[flat: 0] != 1234)
        // A float16 tensor converts once into owned memory.
        let half = try #require(dict["f16"]?.tensorValue).float32Tensor()
        #expect(half.scalars == [0.5, -1.0, 65504.0, floatFromHalfBits(0x0001), floatFromHalfBits(0x3555), -0.0])
    }

    @Test func float32ConversionOfEveryDtypeAndLayout() throws {
        let dict = try #require(try TorchFile.load(ioFixture("tensors.pt")).dictValue)
        var checked = 0
        for entry in dict.entries {
            let tensor = try #require(entry.value.tensorValue)
            let converted = tensor.float32Tensor()
            #expect(converted.shape == tensor.shape)
            #expect(converted.scalars == tensor.doubles().map { Float($0) }, "\(entry.key)")
            checked += 1
        }
        #expect(checked == 19)
    }

    @Test func unalignedFloat32IsCopiedNotBorrowed() throws {
        // A safetensors file whose float32 tensor starts 2 bytes into the data (after one float16).
        let header = #"{"h":{"dtype":"F16","shape":[1],"data_offsets":[0,2]},"f":{"dtype":"F32","shape":[2],"data_offsets":[2,10]}}"#
        var bytes = withUnsafeBytes(of: UInt64(header.utf8.count).littleEndian, Array.init) + Array(header.utf8)
        bytes += [0x00, 0x3C]  // 1.0 in float16
        bytes += withUnsafeBytes(of: Float(2.5).bitPattern.littleEndian, Array.init)
        bytes += withUnsafeBytes(of: Float(-7).bitPattern.littleEndian, Array.init)
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("odd.safetensors").path
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        let file = try Safetensors.load(path)
        let stored = try #require(file.tensors["f"])
        let base = try #require(stored.storage.base)
        #expect(Int(bitPattern: base) % 4 != 0)
        let f = stored.float32Tensor()
        #expect(f.scalars == [2.5, -7])
        #expect(UnsafeRawPointer(f.storage.baseAddress) != base)
        #expect(try file.tensors.float32Tensor(named: "h").scalars == [1])
    }

    @Test func plainPythonValues() throws {
        let value = try TorchFile.load(ioFixture("structures.pt"))
        let d = try #require(value.dictValue)
        #expect(d["text"]?.stringValue == "héllo ✓")
        #expect(d["small"]?.intValue == 7 && d["medium"]?.intValue == 40000 && d["negative"]?.intValue == -5)
        #expect(d["big"]?.intValue == 1 << 40 && d["very_negative"]?.intValue == -(1 << 62))
        #expect(d["float"]?.doubleValue == 0.1)
        if case .none? = d["none"] {} else { Issue.record("none") }
        #expect(d["yes"]?.boolValue == true && d["no"]?.boolValue == false)
        if case .bytes(let b)? = d["bytes"] { #expect(b == [0x61, 0x62, 0x00, 0xFF]) } else { Issue.record("bytes") }
        #expect(d["list"]?.jsonValue == .array([.int(1), .string("two"), .array([.double(3.0), .null])]))
        if case .tuple(let items)? = d["tuple"] { #expect(items.count == 3) } else { Issue.record("tuple") }
        #expect(d["nested"]?.jsonValue?["a"]?["b"]?["c"] == .array([.int(1), .int(2)]))
        #expect(d["nested"]?.dictValue?.entries.last?.key.intValue == 5)
        if case .set(let items)? = d["set"] { #expect(items.first?.intValue == 3) } else { Issue.record("set") }
        #expect(d["size"]?.jsonValue == .array([.int(2), .int(3)]))
        if case .object(let type, let args)? = d["device"] {
            #expect(type == "torch.device" && args.first?.stringValue == "cpu")
        } else { Issue.record("device") }
        if case .global(let name)? = d["dtype"] { #expect(name == "torch.float16") } else { Issue.record("dtype") }
        #expect(d["ordered"]?.dictValue?.kind == .orderedDict)
        #expect(d["ordered"]?.dictValue?.entries.compactMap(\.key.stringValue) == ["z", "a"])
        #expect(d["counter"]?.dictValue?.kind == .counter && d["counter"]?["x"]?.intValue == 2)
        #expect(d["tensor_in_list"]?.sequenceValue?.first?.tensorValue?.float32Tensor().scalars == [1, 2])
        #expect(d["tensor_with_attr"]?.tensorValue?.float32Tensor().scalars == [1, 2])
        #expect(d["param_with_attr"]?.tensorValue?.dtype == .float64)
        #expect(d["param_with_attr"]?.tensorValue?.doubles() == [4, -4])
    }

    @Test func bigEndianStoragesAreSwapped() throws {
        let expected = try expectedJSON("tensors.expected.json")
        let dict = try #require(try TorchFile.load(ioFixture("bigendian.pt")).dictValue)
        for entry in dict.entries {
            let name = try #require(entry.key.stringValue)
            expectMatches(try #require(entry.value.tensorValue), try #require(expected["tensors"]?[name]), "big-endian \(name)")
        }
    }

    @Test func zip64ArchiveReads() throws {
        let expected = try expectedJSON("tensors.expected.json")
        let dict = try #require(try TorchFile.load(ioFixture("zip64.pt")).dictValue)
        #expect(dict.count == 19)
        for entry in dict.entries {
            let name = try #require(entry.key.stringValue)
            expectMatches(try #require(entry.value.tensorValue), try #require(expected["tensors"]?[name]), "zip64 \(name)")
        }
    }

    @Test func birderCheckpointBothFormats() throws {
        let expected = try expectedJSON("tiny_rdnet.expected.json")
        for file in ["tiny_rdnet_3.pt", "tiny_rdnet_3.safetensors"] {
            let checkpoint = try Checkpoint.load(ioFixture(file))
            let order = try #require(expected["order"]?.arrayValue).compactMap(\.stringValue)
            if file.hasSuffix(".pt") {
                #expect(checkpoint.state.names == order)
            } else {
                #expect(Set(checkpoint.state.names) == Set(order))
            }
            var maxDiff = 0.0
            for name in order {
                maxDiff = max(maxDiff, expectMatches(try #require(checkpoint.state[name]), try #require(expected["tensors"]?[name]), name))
            }
            #expect(checkpoint.state.parameterCount == expected["num_parameters"]?.intValue)
            #expect(checkpoint.signature.inputSize == [64, 48] && checkpoint.signature.inputChannels == 3)
            #expect(checkpoint.signature.numClasses == 4)
            #expect(checkpoint.signature.json == expected["signature"])
            #expect(checkpoint.classNames == ["Coleoptera", "Diptera", "Hymenoptera", "Lepidoptera"])
            #expect(checkpoint.classToIdx["Hymenoptera"] == 2)
            #expect(checkpoint.rgbStats == RGBStats(mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225]))
            #expect(checkpoint.config?["growth_rates"] == .list([.int(8), .int(16)]))
            #expect(checkpoint.config?["block_type_name"] == .list([.string("Block"), .string("BlockESE")]))
            #expect(checkpoint.config?["transition_compression_ratio"] == .double(0.5))
            #expect(checkpoint.birderVersion == expected["birder_version"]?.stringValue)
            #expect(checkpoint.task == "image_classification")
            // ParameterSource view.
            let source: any ParameterSource = checkpoint.state
            #expect(source.shape(of: "stem.0.weight") == [8, 3, 4, 4])
            #expect(try source.float32Tensor(named: "classifier.weight").shape == [4, 24])
            #expect(throws: BirderIOError.self) { try source.float32Tensor(named: "no.such.tensor") }
            print("\(file): \(order.count) tensors, \(checkpoint.state.parameterCount) elements, max difference \(maxDiff)")
        }
    }

    @Test func headFile() throws {
        let expected = try expectedJSON("tiny_rdnet.expected.json")
        let head = try Head.load(ioFixture("tiny_rdnet_t_ibot-test-order.head.pt"))
        #expect(head.numClasses == 4 && head.inputDimension == 24)
        #expect(head.classNames == ["Coleoptera", "Diptera", "Hymenoptera", "Lepidoptera"])
        let weight = try #require(expected["head"]?["weight"]?["values"]?.arrayValue).map { Float($0.doubleValue!) }
        let bias = try #require(expected["head"]?["bias"]?["values"]?.arrayValue).map { Float($0.doubleValue!) }
        let (dw, _) = maxAbsDifference(head.weight.scalars, weight)
        let (db, _) = maxAbsDifference(head.bias.scalars, bias)
        print("head: max difference weight \(dw), bias \(db)")
        #expect(dw == 0 && db == 0)
        // The head file is not a model checkpoint.
        let error = expectIOError { _ = try Checkpoint.load(ioFixture("tiny_rdnet_t_ibot-test-order.head.pt")) }
        #expect(error?.description.contains("not a Birder model checkpoint") == true)
    }

    @Test func legacyAndCompressedFormatsAreRefusedClearly() {
        let legacy = expectIOError { _ = try TorchFile.load(ioFixture("legacy.pt")) }
        #expect(legacy?.description.contains("legacy") == true)
        let deflated = expectIOError { _ = try TorchFile.load(ioFixture("deflated.pt")) }
        #expect(deflated?.description.contains("compressed") == true)
        let missing = expectIOError { _ = try TorchFile.load(ioFixture("does-not-exist.pt")) }
        #expect(missing?.description.hasPrefix(ioFixture("does-not-exist.pt") + ": cannot open") == true)
    }
}
