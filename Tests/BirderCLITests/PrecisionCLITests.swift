import Foundation
import Testing
import Birder
import BirderTestSupport

/// `--precision` through the built binary: bf16 embeddings close to fp32's but computed (not
/// equal), the emulation said once, a bad value refused, and the precision part of what a
/// finished shard records.
@Suite struct PrecisionCLITests {
    let photos = Fixtures.path("cli/photos")
    let model = Fixtures.path("cli/models/rdnet_t_tiny-test.pt")

    static func embeddings(_ path: String) throws -> [[Float]] {
        try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n").dropFirst()
            .map { $0.split(separator: ",").dropFirst().map { Float($0)! } }
    }

    @Test func bf16EmbedsCloseToFp32AndSaysItIsEmulated() throws {
        let dir = try BirderProcess.temporaryDirectory()
        let inputs = ["\(photos)/a_chelsea.jpg", "\(photos)/insects/b_coffee.png", "\(photos)/insects/c_chelsea.webp"]
        var rows: [String: [[Float]]] = [:]
        let kernels = try InstructionSet.preferred()
        for precision in ["fp32", "bf16"] {
            let output = dir.appendingPathComponent("\(precision).csv").path
            let run = try BirderProcess.run(["embed"] + inputs + ["--model", model, "--precision", precision, "--output", output])
            #expect(run.status == 0, "\(run.stderr)")
            let notes = run.stderr.split(separator: "\n").filter { $0.contains("emulated") }
            let emulated = precision == "bf16" && !kernels.runsBF16Natively
            #expect(notes.count == (emulated ? 1 : 0), "\(run.stderr)")
            if emulated { #expect(notes[0].hasPrefix("note: bf16 is emulated by the \(kernels) kernels")) }
            rows[precision] = try Self.embeddings(output)
        }
        let fp32 = try #require(rows["fp32"]), bf16 = try #require(rows["bf16"])
        try #require(fp32.count == 3 && bf16.count == 3)
        for (a, b) in zip(bf16, fp32) {
            let cosine = cosineSimilarity(a, b)
            #expect(cosine >= 0.999 && a != b, "cosine \(cosine)")
        }
    }

    @Test func anUnknownPrecisionIsAUsageError() throws {
        let run = try BirderProcess.run(["embed", "\(photos)/a_chelsea.jpg", "--model", model, "--precision", "fp16"])
        #expect(run.status == 2 && run.stdout.isEmpty, "\(run.stderr)")
        #expect(run.stderr.contains("--precision") && run.stderr.contains("fp16"), "\(run.stderr)")
    }

    /// A shard finished in fp32 is not taken for the same shard in bf16: other numbers.
    @Test func aFinishedShardRecordsItsPrecision() throws {
        let dir = try BirderProcess.temporaryDirectory()
        let output = dir.appendingPathComponent("e.npy").path
        let arguments = ["embed", photos, "--model", model, "--output", output, "--shard", "0/2"]
        let fp32 = try BirderProcess.run(arguments)
        #expect(fp32.status == 0, "\(fp32.stderr)")
        let again = try BirderProcess.run(arguments)
        #expect(again.status == 0 && again.stderr.contains("already done"), "\(again.stderr)")
        let bf16 = try BirderProcess.run(arguments + ["--precision", "bf16"])
        #expect(bf16.status == 2 && bf16.stderr.contains("a finished shard of a different run is here"), "\(bf16.stderr)")
    }
}
