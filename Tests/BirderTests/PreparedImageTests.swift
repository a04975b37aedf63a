import BirderTestSupport
import Foundation
import Testing
@testable import Birder

/// Images prepared ahead of their batch (as `birder serve` does on arrival) give exactly what
/// the same images give unprepared, failures included.
@Suite struct PreparedImageTests {
    @Test func preparedImagesGiveTheSameResultsAsUnprepared() throws {
        let model = try BirderModel.load(Fixtures.path("cli/models/rdnet_t_tiny-test.pt"), heads: ["order"])
        let session = try InferenceSession(model: model, context: ComputeContext(threads: 1), batchSize: 2)
        let inputs: [ImageInput] = [
            .path(Fixtures.path("cli/photos/a_chelsea.jpg")),
            .encoded(try Data(contentsOf: Fixtures.url("cli/photos/insects/b_coffee.png")), name: "b_coffee.png"),
            .encoded(try Data(contentsOf: Fixtures.url("cli/photos/insects/d_truncated.jpg")), name: "d_truncated.jpg"),
        ]
        let prepared = inputs.map { ImageInput.prepared(session.prepare($0)) }
        #expect(prepared.map(\.name) == inputs.map(\.name))

        let direct = Array(session.embed(inputs)).map(\.result)
        let ahead = Array(session.embed(prepared)).map(\.result)
        #expect(try direct[0].get() == ahead[0].get())
        #expect(try direct[1].get() == ahead[1].get())
        // The truncated file fails in both, with the same message.
        #expect(String(describing: direct[2]) == String(describing: ahead[2]))
        guard case .failure(.unreadableImage) = ahead[2] else { Issue.record("\(ahead[2])"); return }

        let classified = try Array(session.classify(prepared, topK: 3)).map(\.result)
        let expected = try Array(session.classify(inputs, topK: 3)).map(\.result)
        #expect(try classified[0].get() == expected[0].get())
    }

    @Test func aSessionWithAnotherTransformRefusesThePixels() throws {
        let path = Fixtures.path("cli/models/rdnet_t_tiny-test.pt")
        let model = try BirderModel.load(path)
        let session = try InferenceSession(model: model, context: ComputeContext(threads: 1))
        let image = session.prepare(.path(Fixtures.path("cli/photos/a_chelsea.jpg")))
        // Same model, another crop: same number of floats, other pixels.
        let other = try InferenceSession(model: model.withPreprocessing(centerCrop: 0.875), context: ComputeContext(threads: 1))
        let result = Array(other.embed([.prepared(image)]))[0].result
        #expect(String(describing: result).contains("prepared for a model with another input transform"), "\(result)")
        // Same sizes and crop, torchvision's resampling instead of Pillow's: other pixels too.
        let torchvision = try InferenceSession(model: model.withPreprocessing(imageLoader: .tv), context: ComputeContext(threads: 1))
        let resampled = Array(torchvision.embed([.prepared(image)]))[0].result
        #expect(String(describing: resampled).contains("prepared for a model with another input transform"), "\(resampled)")
    }

    /// Prepared for Birder's `tv` loader, a format it does not read fails as it would unprepared.
    @Test func preparingFollowsTheModelsImageLoader() throws {
        let model = try BirderModel.load(Fixtures.path("cli/models/rdnet_t_tiny-test.pt")).withPreprocessing(imageLoader: .tv)
        let session = try InferenceSession(model: model, context: ComputeContext(threads: 1))
        let bitmap = ImageInput.path(Fixtures.path("vision/bmp/pil_rgb24.bmp"))
        let direct = Array(session.embed([bitmap]))[0].result
        let ahead = Array(session.embed([.prepared(session.prepare(bitmap))]))[0].result
        #expect(String(describing: direct) == String(describing: ahead))
        #expect(String(describing: ahead).contains("BMP"), "\(ahead)")
    }
}
