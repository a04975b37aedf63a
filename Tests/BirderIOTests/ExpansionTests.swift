import Foundation
import Testing
import BirderCore
import BirderTestSupport
@testable import BirderIO

/// Memory exhaustion: pickles of a few kilobytes that describe exponentially (or quadratically)
/// large values through shared references. Every reader must refuse them with one line naming
/// the file, before anything walks the value as a tree.
@Suite struct ExpansionTests {
    /// Made by tools/reference/make_hostile_pickles.py (Python's own pickler writes the sharing).
    static let laughFixtures = [
        "hostile_laughs_config_lists.pt",
        "hostile_laughs_signature_dicts.pt",
        "hostile_laughs_rgb_stats_tuples.pt",
        "hostile_laughs_class_to_idx_mixed.pt",
        "hostile_laughs_birder_version_strings.pt",
        "hostile_laughs_task_set.pt",
        "hostile_laughs_wide.pt",
        "hostile_laughs_deep.pt",
        "hostile_laughs_order.head.pt",
        "hostile_ordereddict_copies.pt",
    ]

    /// Every entry point that reads a `.pt`.
    static let readers: [(String, @Sendable (String) throws -> Void)] = [
        ("TorchFile.load", { _ = try TorchFile.load($0) }),
        ("WeightsFile.open", { _ = try WeightsFile.open($0) }),
        ("WeightsFileSummary.inspect", { _ = try WeightsFileSummary.inspect($0) }),
        ("Checkpoint.load or Head.load", { path in
            if path.hasSuffix(".head.pt") { _ = try Head.load(path) } else { _ = try Checkpoint.load(path) }
        }),
    ]

    @Test(arguments: laughFixtures) func sharedStructureIsRefusedByEveryReader(_ name: String) {
        let path = ioFixture(name)
        for (reader, read) in Self.readers {
            let error = expectIOError { try read(path) }
            guard let error else { continue }
            #expect(error.path == path, "\(reader): \(error)")
            guard case .invalidPickle(_, let reason) = error else {
                Issue.record("\(reader): expected an invalid pickle error, got \(error)")
                continue
            }
            #expect(reason.contains("billion laughs"), "\(reader): \(error)")
            #expect(!error.description.contains("\n"))
        }
    }

    /// The control: the same generator's valid checkpoint, with 1024-leaf sharing, loads whole.
    @Test func moderateSharingStillLoads() throws {
        let checkpoint = try Checkpoint.load(ioFixture("shared_config_ok.pt"))
        #expect(checkpoint.classNames == ["a", "b"])
        #expect(checkpoint.signature.inputSize == [8, 8])
        var level = try #require(checkpoint.config?["layers"]), depth = 0
        while case .list(let items) = level, items.count == 2 {
            level = items[0]
            depth += 1
        }
        #expect(depth == 10)
        let weight = try checkpoint.state.float32Tensor(named: "classifier.weight")
        #expect(weight.shape == [2, 3] && weight[flat: 1] == -1)
    }

    // MARK: - Built here: opcodes Python's pickler would not write

    static func binunicode(_ s: String) -> [UInt8] {
        let b = Array(s.utf8)
        return [0x58] + withUnsafeBytes(of: UInt32(b.count).littleEndian, Array.init) + b
    }

    static func global(_ module: String, _ name: String) -> [UInt8] { Array("c\(module)\n\(name)\n".utf8) }

    /// The pickle alone, unpickled from memory with no storages.
    func unpickle(_ pickle: [UInt8]) throws(BirderIOError) -> PickleValue {
        try withBytes(pickle) { (raw) throws(BirderIOError) in
            var unpickler = Unpickler(path: "crafted.pkl", bytes: raw) { (request) throws(BirderIOError) in
                throw .invalidContent(path: "crafted.pkl", reason: "no storage '\(request.key)'")
            }
            return try unpickler.load()
        }
    }

    func expectRefused(_ pickle: [UInt8], _ label: String, sourceLocation: SourceLocation = #_sourceLocation) {
        let error = expectIOError({ _ = try unpickle(pickle) }, sourceLocation: sourceLocation)
        #expect(error?.description.contains("billion laughs") == true, "\(label): \(String(describing: error))",
                sourceLocation: sourceLocation)
    }

    static let proto: [UInt8] = [0x80, 0x02]
    static let stop: [UInt8] = [0x2E]

    @Test func dictsOfTheSameDict() {
        // d = {}; then 40 times d = {"a": d, "b": d} (memo slot 0 rebound at each level).
        var p = Self.proto + [0x7D, 0x71, 0x00]
        for _ in 0..<40 {
            p += [0x7D, 0x28] + Self.binunicode("a") + [0x68, 0x00] + Self.binunicode("b") + [0x68, 0x00, 0x75, 0x71, 0x00]
        }
        expectRefused(p + Self.stop, "dicts")
    }

    @Test func oneLongStringReferencedMillionsOfTimes() {
        // A 64 KiB string in 2^12 list slots: 256 MiB of text from a 64 KiB file.
        var p = Self.proto + Self.binunicode(String(repeating: "x", count: 65536)) + [0x71, 0x00]
        for _ in 0..<12 { p += [0x5D, 0x68, 0x00, 0x68, 0x00, 0x86, 0x61, 0x71, 0x00] }
        expectRefused(p + Self.stop, "strings")
    }

    @Test func setsOverSharedLists() {
        // set([L, L]) where L is 40 levels of [x, x]; the set is then shared 2 ways again.
        var p = Self.proto + [0x5D, 0x71, 0x00]
        for _ in 0..<40 { p += [0x5D, 0x28, 0x68, 0x00, 0x68, 0x00, 0x65, 0x71, 0x00] }
        p += Self.global("builtins", "set") + [0x68, 0x00, 0x85, 0x52]
        expectRefused(p + Self.stop, "set")
    }

    @Test func repeatedOrderedDictAndCounterCopies() {
        for (module, name) in [("collections", "OrderedDict"), ("collections", "Counter")] {
            // One dict of 2000 items, then 1000 copies of it made by REDUCE through the memo.
            var p = Self.proto + [0x5D, 0x28, 0x7D, 0x71, 0x01, 0x28]
            for i in 0..<2000 { p += [0x4D, UInt8(i & 0xFF), UInt8(i >> 8), 0x4B, 0x01] }
            p += [0x75] + Self.global(module, name) + [0x71, 0x02, 0x68, 0x01, 0x85, 0x52]
            for _ in 0..<999 { p += [0x68, 0x02, 0x68, 0x01, 0x85, 0x52] }
            expectRefused(p + [0x65] + Self.stop, name)
        }
    }

    @Test func repeatedTorchSizeCopies() {
        // A 2000-dimension tuple of ints copied by torch.Size 1000 times.
        var p = Self.proto + [0x5D, 0x28, 0x28]
        for _ in 0..<2000 { p += [0x4B, 0x01] }
        p += [0x74, 0x71, 0x01] + Self.global("torch", "Size") + [0x71, 0x02, 0x68, 0x01, 0x85, 0x52]
        for _ in 0..<999 { p += [0x68, 0x02, 0x68, 0x01, 0x85, 0x52] }
        expectRefused(p + [0x65] + Self.stop, "torch.Size")
    }

    @Test func mixedContainersAlternating() {
        // list → tuple → dict → list … each level referencing the previous one twice, 45 levels.
        var p = Self.proto + [0x4E, 0x71, 0x00]
        for level in 0..<45 {
            switch level % 3 {
            case 0: p += [0x5D, 0x28, 0x68, 0x00, 0x68, 0x00, 0x65, 0x71, 0x00]
            case 1: p += [0x68, 0x00, 0x68, 0x00, 0x86, 0x71, 0x00]
            default: p += [0x7D, 0x28, 0x4B, 0x00, 0x68, 0x00, 0x4B, 0x01, 0x68, 0x00, 0x75, 0x71, 0x00]
            }
        }
        expectRefused(p + Self.stop, "mixed")
    }

    @Test func wideSharingAtShallowDepth() {
        // Three levels of 1000 references each: 10^9 leaves at depth 3.
        var p = Self.proto + [0x4B, 0x07, 0x71, 0x00]
        for _ in 0..<3 {
            p += [0x5D, 0x28] + Array(repeating: [0x68, 0x00], count: 1000).flatMap { $0 } + [0x65, 0x71, 0x00]
        }
        expectRefused(p + Self.stop, "wide")
    }

    @Test func deviceAndComplexTakeScalarsOnly() throws {
        // torch.device over a shared list would be a container no budget walk sees.
        let p = Self.proto + [0x5D, 0x71, 0x00] + Self.global("torch", "device") + [0x68, 0x00, 0x85, 0x52] + Self.stop
        let error = expectIOError { _ = try unpickle(p) }
        #expect(error?.description.contains("malformed torch.device call") == true, "\(String(describing: error))")
        let ok = Self.proto + Self.global("torch", "device") + Self.binunicode("cpu") + [0x85, 0x52] + Self.stop
        #expect(try unpickle(ok).description == "torch.device('cpu')")
    }

    @Test func budgetScalesWithThePickleNotBeyond() throws {
        // Just under the limit loads; the same sharing one level deeper does not.
        let limit = Unpickler.elementLimit(pickleBytes: 0)
        func lists(_ levels: Int) -> [UInt8] {
            var p = Self.proto + [0x4E, 0x71, 0x00]
            for _ in 0..<levels { p += [0x5D, 0x28, 0x68, 0x00, 0x68, 0x00, 0x65, 0x71, 0x00] }
            return p + Self.stop
        }
        // n levels expand to 2^(n+1) - 1 elements.
        let fits = (1...40).last { (1 << ($0 + 1)) - 1 < limit }!
        _ = try unpickle(lists(fits))
        expectRefused(lists(fits + 2), "one level past the budget")
    }

    @Test func jsonValueCountIsBounded() throws {
        let thousand = "[" + Array(repeating: "0", count: 999).joined(separator: ",") + "]"
        #expect(try JSONValue.parse(thousand, maxValues: 1000).arrayValue?.count == 999)
        #expect(throws: JSONValue.ParseError.self) { try JSONValue.parse(thousand, maxValues: 999) }
    }
}
