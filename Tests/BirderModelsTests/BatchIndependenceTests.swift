import BirderCore
import BirderModels
import BirderTestSupport
import Testing

/// An image's outputs do not depend on the batch it is in or its place there (the server, shards
/// and resumed runs rely on it): each network, each kernel set, on seeded weights.
@Suite struct BatchIndependenceTests {
    @Test(arguments: [("rdnet_t", 64), ("vit_t16", 32), ("deit3_reg4_t16", 32)])
    func eachImageAloneEqualsItsRowInABatch(network: String, side: Int) throws {
        try forEachInstructionSet { context in
            let encoder = try NetworkRegistry.builtIn.makeEncoder(
                network: network, binder: ParameterBinder(seeded: SeededParameters(seed: 7)), numClasses: 0,
                inputSize: [side, side], kernels: context.kernels)
            let count = 5
            let batch = SeededParameters(seed: 8).uniform(name: "input", shape: [count, side, side, 3], center: 0, halfWidth: 2)
            let together = try encoder.embedding(batch, context: context)
            let width = encoder.embeddingSize
            for image in 0..<count {
                let alone = try encoder.embedding(batch.rows(image..<(image + 1)), context: context)
                let row = Array(together.scalars[(image * width)..<((image + 1) * width)])
                #expect(alone.scalars == row, "\(network), \(context.instructionSet) kernels: image \(image) differs, max |Δ| \(maxAbsDifference(alone.scalars, row).maxDiff)")
            }
        }
    }
}
