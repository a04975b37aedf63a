import Foundation
import Testing
import BirderCore
import BirderTestSupport
@testable import BirderIO

/// Seeded random-mutation fuzzing of each reader, from memory, starting from a corpus of valid
/// (and some hostile) fixtures. Every iteration must end in a parse or a BirderIOError naming the
/// input; a crash or a hang fails the run. Reproduce a failure with the printed seed:
/// `BIRDER_FUZZ_SEED=S BIRDER_FUZZ_ITERATIONS=N swift test --filter FuzzTests`.
@Suite struct FuzzTests {
    static let environment = ProcessInfo.processInfo.environment
    static let iterations = environment["BIRDER_FUZZ_ITERATIONS"].flatMap(Int.init) ?? 100_000
    static let seed = environment["BIRDER_FUZZ_SEED"].flatMap(UInt64.init) ?? 0x5EED_B1AD

    static func fixture(_ name: String) -> [UInt8] {
        (try? [UInt8](Data(contentsOf: URL(fileURLWithPath: ioFixture(name))))) ?? []
    }

    /// Values from a parse are walked the way the CLI walks them (JSON, descriptions, small
    /// tensors' elements), so a bad structure that parses still gets exercised.
    static func exercise(_ tensor: StoredTensor) {
        if tensor.elementCount <= 4096 {
            _ = tensor.doubles()
            _ = tensor.float32Tensor()
        }
    }

    static func exercise(_ value: PickleValue) {
        _ = value.jsonValue
        _ = value.description
        switch value {
        case .tensor(let tensor): exercise(tensor)
        case .list(let items), .tuple(let items), .set(let items): items.prefix(64).forEach(exercise)
        case .dict(let dict): dict.entries.prefix(64).forEach { exercise($0.value) }
        default: break
        }
    }

    // MARK: - Targets

    @Test func unpickler() throws {
        // The pickles of the small .pt fixtures, and pickles built here.
        var corpus: [[UInt8]] = []
        for name in ["structures.pt", "tensors.pt", "tiny_rdnet_t_ibot-test-order.head.pt",
                     "broadcast_huge.pt", "hostile_view_overrun.pt", "hostile_laughs_deep.pt", "hostile_nested_global.pt"] {
            let bytes = Self.fixture(name)
            try bytes.withUnsafeBytes { raw in
                let archive = try ZipArchive(path: name, bytes: raw)
                for entry in archive.entries where entry.name.hasSuffix("/data.pkl") {
                    corpus.append(Array(raw[entry.dataOffset..<(entry.dataOffset + entry.size)]))
                }
            }
        }
        // Shared references, 16 leaves: small, since a mutated memo index can make any sharing
        // expand up to the budget, and walking that is the slowest thing an iteration can do.
        var shared: [UInt8] = [0x80, 0x02, 0x4E, 0x71, 0x00]
        for _ in 0..<4 { shared += [0x5D, 0x28, 0x68, 0x00, 0x68, 0x00, 0x65, 0x71, 0x00] }
        corpus.append(shared + [0x2E])
        #expect(corpus.count == 8)
        let path = "fuzz.pkl"
        let stats = Self.fuzz("unpickler", corpus: corpus) { bytes throws(BirderIOError) in
            var storages: [String: StorageBuffer] = [:]
            try withBytes(bytes) { (raw) throws(BirderIOError) in
                var unpickler = Unpickler(path: path, bytes: raw) { (request) throws(BirderIOError) in
                    if let existing = storages[request.key] { return existing }
                    // Storages come from the ZIP reader, fuzzed on its own: here, zeros of the size asked.
                    let (bytes, overflow) = request.count.multipliedReportingOverflow(by: request.dtype.byteSize)
                    guard !overflow, bytes <= 1 << 16 else {
                        throw .invalidTensor(path: path, name: "", reason: "storage of \(request.count) elements")
                    }
                    let owned = OwnedBytes(count: bytes)
                    let buffer = StorageBuffer(dtype: request.dtype, count: request.count, base: UnsafeRawPointer(owned.base), owner: owned)
                    storages[request.key] = buffer
                    return buffer
                }
                let value = try unpickler.load()
                Self.exercise(value)
                if value.dictValue?["signature"] != nil {
                    _ = try Checkpoint(path: path, pickle: value)
                } else if value.dictValue?["class_to_idx"] != nil {
                    _ = try Head(path: path, pickle: value)
                }
            }
        }
        #expect(stats.errorPaths == [path])
    }

    @Test func zipReader() throws {
        var corpus = ["structures.pt", "legacy.pt", "tiny_rdnet_t_ibot-test-order.head.pt", "broadcast_huge.pt",
                      "shared_config_ok.pt", "hostile_view_overrun.pt", "hostile_short_storage.pt"]
            .map(Self.fixture)
        // Zip64 records, small (zip64.pt holds 19 tensors; its size would dominate the run).
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let zip64 = dir.appendingPathComponent("zip64.pt").path
        let storage = StorageBuffer(dtype: .float32, bytes: (0..<24).map { UInt8($0) })
        try TorchFile.write(.dict(PickleDict([
            ("a", .tensor(try StoredTensor(storage: storage, shape: [2, 3]))),
            ("b", .tensor(try StoredTensor(storage: storage, shape: [2], strides: [2], storageOffset: 1))),
        ], kind: .orderedDict)), to: zip64, forceZip64: true)
        corpus.append(try [UInt8](Data(contentsOf: URL(fileURLWithPath: zip64))))
        #expect(corpus.allSatisfy { !$0.isEmpty })
        let path = "fuzz.pt"
        let stats = Self.fuzz("zip", corpus: corpus, tailBias: true) { bytes throws(BirderIOError) in
            let file = bytes.withUnsafeBytes { FileContents(path: path, copying: $0) }
            switch try WeightsFile.open(file) {
            case .checkpoint(let checkpoint, _): checkpoint.state.entries.prefix(64).forEach { Self.exercise($0.tensor) }
            case .head(let head): _ = head.classNames
            case .stateDict(let state, _): state.entries.prefix(64).forEach { Self.exercise($0.tensor) }
            }
        }
        #expect(stats.errorPaths == [path])
    }

    @Test func safetensorsReader() throws {
        var corpus = ["plain.safetensors", "hostile_overlap.safetensors", "hostile_size_mismatch.safetensors"].map(Self.fixture)
        // A small checkpoint with metadata and several dtypes, written here.
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let written = dir.appendingPathComponent("small.safetensors").path
        let state = StateDict([
            ("a.weight", StoredTensor(Tensor(shape: [2, 3], values: [1, 2, 3, 4, 5, 6]))),
            ("b", try StoredTensor(storage: StorageBuffer(dtype: .float16, bytes: [0, 60, 0, 64]), shape: [2])),
            ("c", try StoredTensor(storage: StorageBuffer(dtype: .int64, bytes: [UInt8](repeating: 1, count: 24)), shape: [3])),
        ])
        let checkpoint = Checkpoint(state: state, signature: Signature(inputSize: [4, 4], numClasses: 2), classNames: ["x", "y"],
                                    rgbStats: RGBStats(mean: [0.5, 0.5, 0.5], std: [0.2, 0.2, 0.2]),
                                    config: ["layers": .list([.int(1), .int(2)])], birderVersion: "0.8.4")
        try checkpoint.write(to: written, format: .safetensors)
        corpus.append(try [UInt8](Data(contentsOf: URL(fileURLWithPath: written))))
        #expect(corpus.allSatisfy { !$0.isEmpty })
        let path = "fuzz.safetensors"
        let stats = Self.fuzz("safetensors", corpus: corpus) { bytes throws(BirderIOError) in
            let file = bytes.withUnsafeBytes { FileContents(path: path, copying: $0) }
            let st = try Safetensors.load(file)
            st.tensors.entries.prefix(64).forEach { Self.exercise($0.tensor) }
            if st.metadata["signature"] != nil { _ = try Checkpoint(path: path, safetensors: st) }
        }
        #expect(stats.errorPaths == [path])
    }

    @Test func npyReader() throws {
        let corpus = ["f32.npy", "f64.npy", "fortran.npy", "i64.npy", "bigendian.npy"].map(Self.fixture)
        #expect(corpus.allSatisfy { !$0.isEmpty })
        let path = "fuzz.npy"
        let stats = Self.fuzz("npy", corpus: corpus) { bytes throws(BirderIOError) in
            let file = bytes.withUnsafeBytes { FileContents(path: path, copying: $0) }
            Self.exercise(try NPY.read(file))
        }
        #expect(stats.errorPaths == [path])
    }

    // MARK: - Engine

    struct Stats {
        var parsed = 0
        var refused = 0
        var errorPaths = Set<String>()
    }

    /// Runs `iterations` mutated inputs through `parse`. Every 64th input is an unmutated corpus
    /// file, which must parse unless it is one of the hostile ones (checked by the caller's corpus
    /// choice: those are refused every time, the valid ones never).
    static func fuzz(_ target: String, corpus: [[UInt8]], tailBias: Bool = false,
                     _ parse: ([UInt8]) throws(BirderIOError) -> Void) -> Stats {
        var rng = SplitMix64(seed: seed ^ UInt64(truncatingIfNeeded: target.hashValueStable))
        var stats = Stats()
        var corpusParses = [Bool?](repeating: nil, count: corpus.count)
        let watchdog = Watchdog(target: target, seed: seed)
        let start = DispatchTime.now().uptimeNanoseconds
        for iteration in 0..<iterations {
            watchdog.progress(iteration)
            let index = Int(rng.next() % UInt64(corpus.count))
            var input = corpus[index]
            let pristine = iteration % 64 == 0
            if !pristine { Mutator.mutate(&input, corpus: corpus, tailBias: tailBias, rng: &rng) }
            watchdog.current = input
            do {
                try parse(input)
                stats.parsed += 1
                if pristine { corpusParses[index] = true }
            } catch {
                stats.refused += 1
                stats.errorPaths.insert(error.path)
                if !error.description.hasPrefix(error.path + ": ") || error.description.contains("\n") {
                    Issue.record("\(target): error is not one line naming the input: \(error)")
                }
                if pristine {
                    if corpusParses[index] == true { Issue.record("\(target): corpus file \(index) parsed once and failed later") }
                    corpusParses[index] = false
                }
            }
        }
        watchdog.finish()
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        print("fuzz \(target): \(iterations) iterations (seed \(seed)) in \(String(format: "%.1f", seconds)) s: \(stats.parsed) parsed, \(stats.refused) refused with a typed error")
        #expect(stats.parsed > 0 && stats.refused > 0, "\(target): mutations should both parse and fail")
        #expect(corpusParses.contains(true), "\(target): no corpus file parses")
        return stats
    }
}

/// SplitMix64: small, seedable, the same sequence on every platform.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    mutating func below(_ n: Int) -> Int { n <= 1 ? 0 : Int(next() % UInt64(n)) }
}

extension String {
    /// FNV-1a of the UTF-8 bytes (`hashValue` changes between runs).
    var hashValueStable: UInt64 {
        var h: UInt64 = 0xCBF2_9CE4_8422_2325
        for b in utf8 { h = (h ^ UInt64(b)) &* 0x100_0000_01B3 }
        return h
    }
}

/// Byte-level mutations that reach the length fields and counts headers claim.
enum Mutator {
    static let interesting: [UInt64] = [0, 1, 2, 0x7F, 0x80, 0xFF, 0x100, 0x7FFF, 0x8000, 0xFFFF, 0x10000,
                                        0x7FFF_FFFF, 0x8000_0000, 0xFFFF_FFFF, 0x1_0000_0000, 0x7FFF_FFFF_FFFF_FFFF,
                                        0x8000_0000_0000_0000, 0xFFFF_FFFF_FFFF_FFFF]

    static func mutate(_ bytes: inout [UInt8], corpus: [[UInt8]], tailBias: Bool, rng: inout SplitMix64) {
        let count = 1 + rng.below(4)
        for _ in 0..<count {
            // Half of the positions fall in the last quarter (a ZIP's directory), when asked.
            func position(_ width: Int = 1) -> Int? {
                guard bytes.count >= width else { return nil }
                let span = bytes.count - width + 1
                if tailBias, rng.below(2) == 0 { return span - 1 - rng.below(max(1, span / 4)) }
                return rng.below(span)
            }
            switch rng.below(9) {
            case 0:  // flip a bit
                if let p = position() { bytes[p] ^= UInt8(1) << UInt8(rng.below(8)) }
            case 1:  // a random byte
                if let p = position() { bytes[p] = UInt8(truncatingIfNeeded: rng.next()) }
            case 2, 3:  // an interesting integer, 1, 2, 4 or 8 bytes, little- or big-endian
                let width = [1, 2, 4, 8][rng.below(4)]
                if let p = position(width) {
                    var v = interesting[rng.below(interesting.count)]
                    if rng.below(4) == 0 { v = v &+ UInt64(bitPattern: Int64(rng.below(5) - 2)) }
                    let bigEndian = rng.below(4) == 0
                    for i in 0..<width {
                        let shift = UInt64(8 * (bigEndian ? width - 1 - i : i))
                        bytes[p + i] = UInt8(truncatingIfNeeded: v >> shift)
                    }
                }
            case 4:  // delete a run
                if let p = position() { bytes.removeSubrange(p..<min(bytes.count, p + 1 + rng.below(16))) }
            case 5:  // insert a run of random or repeated bytes
                let p = rng.below(bytes.count + 1)
                let n = 1 + rng.below(16)
                let fill = UInt8(truncatingIfNeeded: rng.next())
                bytes.insert(contentsOf: (0..<n).map { _ in rng.below(2) == 0 ? fill : UInt8(truncatingIfNeeded: rng.next()) }, at: p)
            case 6:  // truncate
                if !bytes.isEmpty { bytes.removeLast(1 + rng.below(min(bytes.count, 64))) }
            case 7:  // duplicate a chunk of itself elsewhere
                if let p = position(), let q = position() {
                    let chunk = Array(bytes[p..<min(bytes.count, p + 1 + rng.below(32))])
                    bytes.insert(contentsOf: chunk, at: q)
                }
            default:  // splice a chunk of another corpus file over this one
                let other = corpus[rng.below(corpus.count)]
                if !other.isEmpty, let p = position() {
                    let from = rng.below(other.count)
                    let n = min(1 + rng.below(64), other.count - from, bytes.count - p)
                    bytes.replaceSubrange(p..<(p + n), with: other[from..<(from + n)])
                }
            }
        }
    }
}

/// Fails a fuzz run that stops making progress (an endless loop in a reader) instead of letting
/// it block the suite: writes the input that hung beside the temporary files, says how to rerun,
/// and stops the process. Each iteration takes well under a millisecond, so a minute without
/// progress is a hang, not a slow machine.
final class Watchdog: @unchecked Sendable {
    private let lock = NSLock()
    private var last = -1
    private var seen = -2
    private var done = false
    var current: [UInt8] {
        get { lock.withLock { _current } }
        set { lock.withLock { _current = newValue } }
    }
    private var _current: [UInt8] = []

    init(target: String, seed: UInt64) {
        let thread = Thread { [self] in
            while true {
                Thread.sleep(forTimeInterval: 60)
                let (finished, now, input) = lock.withLock { (done, last, _current) }
                if finished { return }
                if now == seen {
                    let path = FileManager.default.temporaryDirectory.appendingPathComponent("birder-fuzz-hang-\(target).bin").path
                    _ = FileManager.default.createFile(atPath: path, contents: Data(input))
                    fatalError("fuzz \(target): no progress for 60 s at iteration \(now) (seed \(seed)); input written to \(path)")
                }
                seen = now
            }
        }
        thread.start()
    }

    func progress(_ iteration: Int) { lock.withLock { last = iteration } }
    func finish() { lock.withLock { done = true } }
}
