import BirderTestSupport
import Foundation
import Testing
@testable import Birder

/// Logits, test-time augmentation and other inference sizes against Birder 0.8.4's numbers for
/// the fixture photos (tools/reference/make_inference_options_fixtures.py).
@Suite struct InferenceOptionsTests {
    struct Fixture: Decodable {
        struct Image: Decodable {
            let sample: String
            let logits: [Float]
            let tta_probabilities: [Float]
            let tta_logits: [Float]
        }
        struct SizeCase: Decodable { let model: String; let size: [Int]; let embeddings: [[Float]] }
        struct LoaderCase: Decodable { let center_crop: Double; let simple_crop: Bool; let embeddings: [[Float]] }
        let classes: [String]
        let images: [Image]
        let sizes: [SizeCase]
        let tv: [LoaderCase]
    }

    static let photos = Fixtures.path("cli/photos")
    static func model(_ name: String = "rdnet_t_tiny-test.pt") -> String { Fixtures.path("cli/models/\(name)") }
    /// The tiny ViT's weights fit several ViT configs, so its network is named.
    static func load(_ name: String) throws -> BirderModel {
        try BirderModel.load(model(name), network: name.hasPrefix("vit") ? "vit_b16_pn" : nil)
    }

    let fixture: Fixture
    var inputs: [ImageInput] { fixture.images.map { .path("\(Self.photos)/\($0.sample)") } }

    init() throws { fixture = try Fixtures.json(Fixture.self, "cli/inference_options.json") }

    func session(_ model: BirderModel) throws -> InferenceSession {
        try InferenceSession(model: model, context: try ComputeContext(threads: 2), batchSize: 2)
    }

    /// Every class's logit, as Birder's `--save-logits`; nil unless asked for.
    @Test func logitsMatchBirder() throws {
        let session = try session(try BirderModel.load(Self.model()))
        let items = Array(try session.classify(inputs, topK: 1, includeLogits: true))
        for (item, image) in zip(items, fixture.images) {
            let head = try #require(item.value?.heads.first)
            let logits = try #require(head.logits)
            #expect(relativeError(logits, image.logits) <= 1e-4, "\(image.sample)")
            // the probabilities are their softmax
            let exps = logits.map { exp(Double($0)) }
            let best = head.top[0]
            #expect(abs(Double(best.probability) - exps[best.index] / exps.reduce(0, +)) <= 1e-6)
        }
        #expect(try session.classify(inputs[0]).heads[0].logits == nil)
    }

    /// `--tta`: the mean over torchvision's five crops, resized back (probabilities and logits).
    @Test func testTimeAugmentationMatchesBirder() throws {
        let session = try session(try BirderModel.load(Self.model()))
        let plain = Array(try session.classify(inputs, topK: 4)).compactMap(\.value)
        let items = Array(try session.classify(inputs, topK: 4, includeLogits: true, testTimeAugmentation: true))
        for ((item, image), plain) in zip(zip(items, fixture.images), plain) {
            let head = try #require(item.value?.heads.first)
            var probabilities = [Float](repeating: 0, count: 4)
            for score in head.top { probabilities[score.index] = score.probability }
            let error = relativeError(probabilities, image.tta_probabilities)
            print("tta \(image.sample): probabilities max |Δ| / max |ref| = \(error)")
            #expect(error <= 1e-4)
            #expect(relativeError(try #require(head.logits), image.tta_logits) <= 1e-4)
            var without = [Float](repeating: 0, count: 4)
            for score in plain.heads[0].top { without[score.index] = score.probability }
            #expect(relativeError(without, probabilities) > 1e-3, "TTA changes the answer (else this test proves nothing)")
        }
    }

    /// `--size`: Birder's `load_model(new_size=...)` (RDNet as it is; a ViT's position embedding
    /// resized once, antialiased) and `inference_preset(size)`.
    @Test func otherInputSizesMatchBirder() throws {
        for testCase in fixture.sizes {
            let base = try Self.load(testCase.model)
            let size = ImageSize(height: testCase.size[0], width: testCase.size[1])
            let model = try base.withInputSize(size)
            #expect(model.inputSize == size && model.checkpointInputSize == base.inputSize)
            let items = Array(try session(model).embed(inputs))
            for (item, reference) in zip(items, testCase.embeddings) {
                let error = relativeError(try #require(item.value), reference)
                print("--size \(size) \(testCase.model): max |Δ| / max |ref| = \(error)")
                #expect(error <= 1e-4, "\(testCase.model) at \(size)")
            }
        }
    }

    @Test func sizesTheNetworkCannotTakeAreRefused() throws {
        let rdnet = try BirderModel.load(Self.model())
        let vit = try Self.load("vit_b16_pn_tiny-test.pt")
        for (model, size) in [(rdnet, ImageSize(height: 80, width: 64)), (vit, ImageSize(height: 72, width: 64)),
                              (rdnet, ImageSize(height: 0, width: 64)), (vit, ImageSize(height: 16_384, width: 16))] {
            #expect(throws: PreprocessingError.invalidInputSize(size, network: model.network,
                                                                multiple: model.network == "rdnet_t" ? 32 : 16)) {
                try model.withInputSize(size)
            }
        }
        // a centre crop checked against the new size, and the cache key sees the size
        let cropped = try rdnet.withPreprocessing(centerCrop: 0.5).withInputSize(ImageSize(height: 96, width: 96))
        #expect(cropped.preprocessing.centerCrop == 0.5)
        let cache = EmbeddingCache(directory: "/tmp/unused")
        let images = ["\(Self.photos)/a_chelsea.jpg"]
        #expect(cache.file(model: try rdnet.withInputSize(ImageSize(height: 96, width: 96)), images: images)
                != cache.file(model: rdnet, images: images))
        #expect(cache.file(model: try rdnet.withInputSize(rdnet.inputSize), images: images) == cache.file(model: rdnet, images: images))
    }

    /// `--img-loader tv`: torchvision's decode and uint8 resize, as `birder-predict` defaults to.
    /// Our embeddings are closer to Birder's tv numbers than the pil path's are (else the test
    /// would not tell the two apart).
    @Test func torchvisionLoaderMatchesBirder() throws {
        let base = try BirderModel.load(Self.model())
        for testCase in fixture.tv {
            let tv = try base.withPreprocessing(centerCrop: testCase.center_crop, simpleCrop: testCase.simple_crop, imageLoader: .tv)
            let pil = try base.withPreprocessing(centerCrop: testCase.center_crop, simpleCrop: testCase.simple_crop)
            let ours = Array(try session(tv).embed(inputs)).compactMap(\.value)
            let pillow = Array(try session(pil).embed(inputs)).compactMap(\.value)
            #expect(ours.count == 3)
            var apart = 0
            for ((embedding, reference), other) in zip(zip(ours, testCase.embeddings), pillow) {
                let error = relativeError(embedding, reference), pilError = relativeError(other, reference)
                print("tv crop \(testCase.center_crop) simple \(testCase.simple_crop): \(error) (pil path: \(pilError))")
                #expect(error <= 1e-5)
                if pilError > 10 * max(error, 1e-7) { apart += 1 }
            }
            #expect(apart >= 1, "the tv and pil paths must give different numbers on these photos")
        }
        // torchvision reads no bitmaps: refused per file, as Birder's loader fails on them
        let tv = try base.withPreprocessing(imageLoader: .tv)
        let item = try #require(Array(try session(tv).embed([.path(Fixtures.path("vision/bmp/pil_rgb24.bmp"))])).first)
        guard case let .failure(.unreadableImage(_, reason)) = item.result else { Issue.record("a BMP was read by the tv loader"); return }
        #expect(reason.contains("tv image loader") && reason.contains("BMP"), "\(reason)")
    }
}
