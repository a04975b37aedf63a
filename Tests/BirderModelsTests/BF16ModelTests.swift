import Foundation
import Testing
import BirderCore
@testable import BirderModels
import BirderTestSupport

/// The bf16 precision on whole networks: the memory it keeps, and outputs that stay close to the
/// fp32 ones Birder gives (the fidelity against PyTorch's own bf16 autocast is in
/// BF16FidelityFixtureTests).
@Suite struct BF16ModelTests {
    /// Parameters of a state dict listing (`name [shape]` per line) but the classifier's.
    static func encoderParameterCount(_ listing: String) throws -> Int {
        try String(contentsOf: Fixtures.url(listing), encoding: .utf8).split(separator: "\n")
            .filter { !$0.hasPrefix("classifier.") }.reduce(0) { total, line in
            let dims = line.split(separator: "[").last!.dropLast().split(separator: ",")
            return total + dims.reduce(1) { $0 * Int($1.trimmingCharacters(in: .whitespaces))! }
        }
    }

    static func encoder(_ network: String, _ precision: Precision) throws -> any ImageEncoder {
        try NetworkRegistry.builtIn.makeEncoder(
            network: network, binder: ParameterBinder(seeded: SeededParameters(seed: 1)), numClasses: 0,
            kernels: try KernelTable(testContext.instructionSet, precision: precision))
    }

    /// Everything the network keeps, counted by reflection: fp32 holds each checkpoint value of the
    /// encoder once (plus panel padding; no classifier is asked for), bf16 at most 55 % of that.
    @Test(arguments: [("rdnet_t", "rdnet/state_dict_rdnet_t.txt"), ("vit_b16_pn", "vit/state_dict_vit_b16_pn.txt")])
    func bf16KeepsAtMost55PercentOfTheFp32Memory(network: String, listing: String) throws {
        let parameters = try Self.encoderParameterCount(listing)
        let fp32 = residentParameterBytes(of: try Self.encoder(network, .fp32))
        let bf16 = residentParameterBytes(of: try Self.encoder(network, .bf16))
        print("\(network): \(parameters) parameters; resident fp32 \(fp32) bytes, bf16 \(bf16) bytes (\(Double(bf16) / Double(fp32)))")
        #expect(fp32 >= 4 * parameters && fp32 <= 4 * parameters * 102 / 100)
        #expect(Double(bf16) <= 0.55 * Double(fp32))
    }

    /// The tiny RDNet of the parity fixtures in bf16: every embedding within a
    /// cosine of 0.999 of Birder's fp32 one, and not equal to it (the rounding is really done).
    @Test func tinyNetworksInBF16StayCloseToBirdersFp32() throws {
        let rdnet = try RDNetParityTests.manifest()
        let tiny = try #require(rdnet.cases.first { $0.name == "tiny" })
        let config = try RDNetConfig.rdnetT.overridden(by: rdnet.tiny_config.mapValues(\.config))
        let net = try RDNet(config: config, binder: ParameterBinder(seeded: SeededParameters(seed: rdnet.seed)),
                            numClasses: rdnet.num_classes["tiny"], kernels: try KernelTable(testContext.instructionSet, precision: .bf16))
        let embedding = try net.embedding(RDNetParityTests.input(rdnet, tiny), context: testContext)
        let reference = try Fixtures.float32Array("rdnet/" + tiny.outputs["embedding"]!.file)
        try Self.expectClose(embedding, reference, rows: tiny.input_shape_nhwc[0], label: "tiny rdnet")
    }

    static func expectClose(_ ours: Tensor, _ reference: [Float], rows: Int, label: String) throws {
        try #require(ours.count == reference.count)
        let width = ours.count / rows
        for row in 0..<rows {
            let a = (0..<width).map { ours[flat: row * width + $0] }, b = Array(reference[(row * width)..<((row + 1) * width)])
            let cosine = cosineSimilarity(a, b)
            let (diff, ref) = maxAbsDifference(a, b)
            print("\(label) bf16 row \(row): cosine \(cosine), max|Δ| \(diff) (max|ref| \(ref))")
            #expect(cosine >= 0.999, "\(label) row \(row)")
            #expect(diff > 0, "\(label) row \(row): bf16 equals fp32 exactly: nothing was rounded")
        }
    }
}
