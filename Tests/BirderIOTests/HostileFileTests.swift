import Foundation
import Testing
import BirderCore
import BirderTestSupport
@testable import BirderIO

/// Files that must be refused with a clear, typed error naming the file — never executed,
/// never crashing, never allocating what the file does not hold.
@Suite struct HostileFileTests {
    struct Case: CustomStringConvertible, Sendable {
        let file: String
        let check: @Sendable (BirderIOError) -> Bool
        var description: String { file }
    }

    static let torchCases: [Case] = [
        Case(file: "hostile_os_system.pt") { $0 == .forbiddenGlobal(path: ioFixture("hostile_os_system.pt"), global: "os.system") },
        Case(file: "hostile_builtins_eval.pt") { $0 == .forbiddenGlobal(path: ioFixture("hostile_builtins_eval.pt"), global: "builtins.eval") },
        Case(file: "hostile_posix_system.pt") { $0 == .forbiddenGlobal(path: ioFixture("hostile_posix_system.pt"), global: "posix.system") },
        Case(file: "hostile_subprocess.pt") { $0 == .forbiddenGlobal(path: ioFixture("hostile_subprocess.pt"), global: "subprocess.Popen") },
        Case(file: "hostile_nested_global.pt") { $0 == .forbiddenGlobal(path: ioFixture("hostile_nested_global.pt"), global: "os.system") },
        Case(file: "hostile_truncated.pt") { if case .invalidZip = $0 { true } else { false } },
        Case(file: "hostile_entry_overrun.pt") { if case .invalidZip(_, let r) = $0 { r.contains("tensors/data/0") } else { false } },
        Case(file: "hostile_short_storage.pt") { if case .invalidTensor(_, _, let r) = $0 { r.contains("400 bytes") } else { false } },
        Case(file: "hostile_huge_numel.pt") { if case .invalidTensor = $0 { true } else { false } },
        Case(file: "hostile_view_overrun.pt") { if case .invalidTensor(_, _, let r) = $0 { r.contains("needs 8 elements") } else { false } },
        Case(file: "hostile_negative_shape.pt") { if case .invalidTensor(_, _, let r) = $0 { r.contains("negative dimension") } else { false } },
        Case(file: "hostile_overflow_shape.pt") { if case .invalidTensor(_, _, let r) = $0 { r.contains("overflows") } else { false } },
        Case(file: "broadcast_huge.pt") { if case .unsupported(_, let r) = $0 { r.contains("1099511627776 elements over a storage of 6") } else { false } },
    ]

    @Test(arguments: torchCases) func torchFileIsRefused(_ c: Case) {
        let error = expectIOError { _ = try TorchFile.load(ioFixture(c.file)) }
        guard let error else { return }
        print("\(c.file): \(error)")
        #expect(error.path == ioFixture(c.file))
        #expect(error.description.hasPrefix(ioFixture(c.file) + ": "))
        #expect(c.check(error), "unexpected error: \(error)")
        // Tensor errors name the state-dict key the tensor was going to be stored under.
        if case .invalidTensor(_, let name, _) = error { #expect(name == "t") }
    }

    static let safetensorsCases: [(String, String)] = [
        ("hostile_overlap.safetensors", "overlaps"),
        ("hostile_out_of_file.safetensors", "outside"),
        ("hostile_size_mismatch.safetensors", "needs 32 bytes"),
        ("hostile_negative_shape.safetensors", "negative"),
        ("hostile_huge_header.safetensors", "exceeds 100000000"),
        ("hostile_header_past_end.safetensors", "exceeds the 7 bytes"),
    ]

    @Test(arguments: safetensorsCases) func safetensorsFileIsRefused(_ c: (String, String)) {
        let error = expectIOError { _ = try Safetensors.load(ioFixture(c.0)) }
        guard let error else { return }
        print("\(c.0): \(error)")
        if case .invalidSafetensors = error {} else { Issue.record("wrong case \(error)") }
        #expect(error.description.contains(c.1), "\(error)")
        // `birder info` opens files generically: a .safetensors name gets safetensors errors.
        let generic = expectIOError { _ = try WeightsFile.open(ioFixture(c.0)) }
        #expect(generic == error)
    }

    /// Pickles built here, wrapped in a torch-shaped archive.
    func loadPickle(_ pickle: [UInt8], storages: [String: [UInt8]] = [:]) throws -> PickleValue {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("p.pt").path
        let output = try OutputFile(path: path)
        let zip = ZipWriter(file: output)
        try zip.add(name: "p/data.pkl", bytes: pickle)
        for (key, bytes) in storages { try zip.add(name: "p/data/\(key)", bytes: bytes) }
        try zip.finish()
        try output.commit()
        return try TorchFile.load(path)
    }

    static func binunicode(_ s: String) -> [UInt8] {
        let b = Array(s.utf8)
        return [0x58] + withUnsafeBytes(of: UInt32(b.count).littleEndian, Array.init) + b
    }

    @Test func pickleAttacksAreRefused() throws {
        func refused(_ pickle: [UInt8], _ needle: String, _ label: String) {
            let error = expectIOError { _ = try loadPickle(pickle) }
            #expect(error?.description.contains(needle) == true, "\(label): \(String(describing: error))")
        }
        let proto: [UInt8] = [0x80, 0x02]
        // A list that contains itself.
        refused(proto + [0x5D, 0x71, 0x00, 0x68, 0x00, 0x61, 0x2E], "self-referencing", "cycle")
        // "Billion laughs": each list holds a tuple of the previous list twice. Ten levels (1024
        // leaves as a tree) load; 40 levels (2^40 leaves) exceed the element budget however shared
        // they are in memory, since whatever reads the result walks it as a tree; 60 levels also
        // exceed the nesting limit.
        func laughs(_ levels: Int) -> [UInt8] {
            var p = proto + [0x5D]
            for _ in 0..<levels { p += [0x71, 0x00, 0x5D, 0x68, 0x00, 0x68, 0x00, 0x86, 0x61] }
            return p + [0x2E]
        }
        let shared = try loadPickle(laughs(10))
        var level = shared, depth = 0
        while case .list(let items) = level, case .tuple(let pair)? = items.first {
            level = pair[0]
            depth += 1
        }
        #expect(depth == 10)
        refused(laughs(40), "billion laughs", "billion laughs")
        refused(laughs(60), "deeper", "billion laughs past the nesting limit")
        // 200 000 nested tuples (would overflow the stack if built or freed recursively).
        refused(proto + [0x5D] + [UInt8](repeating: 0x85, count: 200_000) + [0x2E], "deeper", "deep nesting")
        // A string claiming 4 GB.
        refused(proto + [0x58, 0xFF, 0xFF, 0xFF, 0xFF, 0x61], "truncated", "huge string")
        // Protocol-4 opcodes and pickle features torch refuses.
        refused(proto + [0x95, 0, 0, 0, 0, 0, 0, 0, 0, 0x2E], "not allowed", "FRAME")
        refused(proto + Array("cbuiltins\ngetattr\n".utf8) + [0x2E], "builtins.getattr", "getattr")
        refused(proto + Array("ctorch\nload\n".utf8) + [0x2E], "torch.load", "torch.load")
        refused(proto + [0x68, 0x05, 0x2E], "memo entry 5", "missing memo")
        refused(proto + [0x52, 0x2E], "underflow", "reduce on empty stack")
        refused(proto + [0x4E, 0x61, 0x2E], "underflow", "append without list")
        refused(proto + [0x4B, 0x01, 0x4E, 0x73, 0x2E], "underflow", "setitem without dict")
        refused(proto + [0x7D, 0x28, 0x7D, 0x62, 0x2E], "underflow", "BUILD reaching below a MARK")
        refused(proto + [0x5D, 0x7D, 0x62, 0x2E], "BUILD on a list", "BUILD on a list")
        refused(proto + [0x7D, 0x5D, 0x4E, 0x73, 0x2E], "unhashable", "list as key")
        // A persistent id that is not a storage.
        refused(proto + [0x28] + Self.binunicode("module") + [0x74, 0x51, 0x2E], "storage", "persid")
        // REDUCE on an allowed non-callable (a dtype).
        refused(proto + Array("ctorch\nfloat32\n".utf8) + [0x29, 0x52, 0x2E], "calling torch.float32", "dtype call")
    }

    @Test func wellFormedPickleBuiltHereLoads() throws {
        // {"a": [1, -2, 3.5]} with memo reuse, the way Python's pickler writes it.
        var p: [UInt8] = [0x80, 0x02, 0x7D, 0x71, 0x00, 0x28] + Self.binunicode("a") + [0x71, 0x01, 0x5D, 0x71, 0x02, 0x28]
        p += [0x4B, 0x01, 0x4A] + withUnsafeBytes(of: Int32(-2).littleEndian, Array.init)
        p += [0x47] + withUnsafeBytes(of: (3.5).bitPattern.bigEndian, Array.init)
        p += [0x65, 0x75, 0x2E]
        let value = try loadPickle(p)
        #expect(value.jsonValue == .object([JSONMember("a", .array([.int(1), .int(-2), .double(3.5)]))]))
    }

    @Test func zipDamageIsRefused() throws {
        let original = try Data(contentsOf: URL(fileURLWithPath: ioFixture("tiny_rdnet_3.pt")))
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        // Every truncation point and a sweep of single-byte corruptions must give an error or a
        // valid result — never a crash.
        var errors = 0, loads = 0
        for cut in stride(from: 0, to: original.count, by: 97) {
            let path = dir.appendingPathComponent("cut.pt").path
            try original.prefix(cut).write(to: URL(fileURLWithPath: path))
            do { _ = try TorchFile.load(path); loads += 1 } catch { errors += 1 }
        }
        #expect(loads == 0 && errors > 0)
        var corrupted = 0
        for position in stride(from: original.count - 400, to: original.count, by: 3) {
            var bytes = [UInt8](original)
            bytes[position] ^= 0xA5
            let path = dir.appendingPathComponent("flip.pt").path
            try Data(bytes).write(to: URL(fileURLWithPath: path))
            do { _ = try WeightsFile.open(path) } catch { corrupted += 1 }
        }
        print("zip damage: \(errors) truncations refused, \(corrupted) of 134 corruptions of the directory refused")
        #expect(corrupted > 0)

        // Single-byte corruptions across the pickle and the first storages.
        var pickleErrors = 0, pickleLoads = 0
        for position in stride(from: 64, to: min(original.count, 4000), by: 11) {
            var bytes = [UInt8](original)
            bytes[position] ^= 0x5A
            let path = dir.appendingPathComponent("flip2.pt").path
            try Data(bytes).write(to: URL(fileURLWithPath: path))
            do {
                if case .checkpoint(let c, _) = try WeightsFile.open(path) {
                    for name in c.state.names { _ = try c.state.float32Tensor(named: name) }
                }
                pickleLoads += 1
            } catch { pickleErrors += 1 }
        }
        print("pickle damage: \(pickleErrors) refused, \(pickleLoads) still loadable")
        #expect(pickleErrors > 0)
    }

    @Test func npyHostileHeaders() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        func npy(_ header: String, payload: Int = 16) throws -> String {
            var h = Array(header.utf8)
            while (10 + h.count + 1) % 64 != 0 { h.append(0x20) }
            h.append(0x0A)
            let bytes: [UInt8] = [0x93] + Array("NUMPY".utf8) + [1, 0, UInt8(h.count & 0xFF), UInt8(h.count >> 8)] + h
                + [UInt8](repeating: 0, count: payload)
            let path = dir.appendingPathComponent("h.npy").path
            try Data(bytes).write(to: URL(fileURLWithPath: path))
            return path
        }
        let cases: [(String, String)] = [
            ("{'descr': '<f4', 'fortran_order': False, 'shape': (1099511627776, 1099511627776), }", "overflows"),
            ("{'descr': '<f4', 'fortran_order': False, 'shape': (1000,), }", "needs 4000 bytes"),
            ("{'descr': '<f4', 'fortran_order': False, 'shape': (-4,), }", "negative"),
            ("{'descr': '<c8', 'fortran_order': False, 'shape': (2,), }", "dtype '<c8'"),
            ("{'descr': '<f4', 'shape': (2,), }", "fortran_order"),
            ("{'descr': '<f4', 'fortran_order': False, 'shape': (2,", "not a Python dict"),
            ("__import__('os').system('id')", "not a Python dict"),
        ]
        for (header, needle) in cases {
            let error = expectIOError { _ = try NPY.read(npy(header)) }
            #expect(error?.description.contains(needle) == true, "\(header): \(String(describing: error))")
        }
    }
}
