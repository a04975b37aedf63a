import BirderTestSupport
import Foundation
import Testing
@testable import Birder

/// Birder's preprocessing options against Birder's own embeddings of the fixture photos under
/// them (tools/reference/make_preprocessing_fixtures.py).
@Suite struct PreprocessingTests {
    struct Fixture: Decodable {
        struct Image: Decodable { let sample: String; let embedding: [Float] }
        struct Case: Decodable { let center_crop: Double; let simple_crop: Bool; let images: [Image] }
        let cases: [Case]
    }

    static let model = Fixtures.path("cli/models/rdnet_t_tiny-test.pt")
    static let photos = Fixtures.path("cli/photos")

    @Test func centerAndSimpleCropMatchBirder() throws {
        let fixture = try Fixtures.json(Fixture.self, "cli/preprocessing.json")
        #expect(fixture.cases.count == 4)
        let base = try BirderModel.load(Self.model)
        let plain = try InferenceSession(model: base, context: try ComputeContext(threads: 2), batchSize: 2)
        let paths = fixture.cases[0].images.map { "\(Self.photos)/\($0.sample)" }
        let unchanged = Array(plain.embed(paths.map(ImageInput.path))).compactMap(\.value)
        for testCase in fixture.cases {
            let model = try base.withPreprocessing(centerCrop: testCase.center_crop, simpleCrop: testCase.simple_crop)
            #expect(model.preprocessing == Preprocessing(centerCrop: testCase.center_crop, simpleCrop: testCase.simple_crop))
            let session = try InferenceSession(model: model, context: try ComputeContext(threads: 2), batchSize: 2)
            let items = Array(session.embed(paths.map(ImageInput.path)))
            for (item, image) in zip(items, testCase.images) {
                let embedding = try #require(item.value)
                let error = relativeError(embedding, image.embedding)
                #expect(error <= 1e-4, "crop \(testCase.center_crop) simple \(testCase.simple_crop) \(image.sample): \(error)")
            }
            // the option changes what the model sees (else this test would prove nothing)
            #expect(zip(items.compactMap(\.value), unchanged).contains { relativeError($0, $1) > 1e-3 })
        }
    }

    @Test func attachingAHeadKeepsThePreprocessingAndTheCacheKeySeesIt() throws {
        let model = try BirderModel.load(Self.model).withPreprocessing(centerCrop: 0.875)
        #expect(try model.attachingHead("order").preprocessing.centerCrop == 0.875)
        let cache = EmbeddingCache(directory: "/tmp/unused")
        let images = ["\(Self.photos)/a_chelsea.jpg"]
        #expect(cache.file(model: model, images: images) != cache.file(model: try BirderModel.load(Self.model), images: images))
        #expect(throws: PreprocessingError.self) { try model.withPreprocessing(centerCrop: 0) }
        #expect(throws: PreprocessingError.self) { try model.withPreprocessing(centerCrop: .infinity) }
        #expect(throws: PreprocessingError.self) { try model.withPreprocessing(centerCrop: 1e-9) }
    }
}
