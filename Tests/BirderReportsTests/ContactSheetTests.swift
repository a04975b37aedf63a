@testable import Birder
import BirderVision
import Foundation
import Testing
import BirderTestSupport
@testable import BirderReports

@Suite struct ContactSheetTests {
    func classification(_ top: [(String, Float)], head: String = "order") -> Classification {
        Classification(heads: [HeadPrediction(head: head, top: top.enumerated().map { ClassScore(index: $0, name: $1.0, probability: $1.1) }, logits: nil)])
    }

    @Test func cardsCarryThumbnailsAndTopK() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("sheet.html").path
        let sheet = try ContactSheet(path: path, title: "Predictions </title>", details: [], heads: ["order"], topK: 2)
        let photos = ["cli/photos/a_chelsea.jpg", "cli/photos/insects/b_coffee.png", "cli/photos/insects/c_chelsea.webp"].map(Fixtures.path)
        for (i, photo) in photos.enumerated() {
            try sheet.add(sample: photo, classification: classification([("Lepidoptera", 0.9 - Float(i) * 0.3), ("</script>\"x\"", 0.05), ("third", 0.01)]))
        }
        try sheet.add(sample: directory.appendingPathComponent("gone <b>.jpg").path, classification: classification([("Diptera", 0.4)]))
        // Nothing is visible at the destination until the sheet is committed.
        #expect(!FileManager.default.fileExists(atPath: path))
        try sheet.commit()
        #expect(sheet.cards == 4 && sheet.thumbnails == 3)

        let html = try readText(path)
        #expect(occurrences(of: "<figure class=\"card\"", in: html) == 4)
        #expect(occurrences(of: "class=\"bar", in: html) == 3 * 2 + 1)
        #expect(occurrences(of: "class=\"bar top\"", in: html) == 4)
        #expect(occurrences(of: "</script>", in: html) == 2)
        #expect(html.contains("<b>&lt;/script&gt;&quot;x&quot;</b>") && !html.contains("third"))
        #expect(html.contains("gone &lt;b&gt;.jpg") && occurrences(of: "class=\"missing\"", in: html) == 1)
        #expect(html.contains("data-class-0=\"Diptera\" data-conf-0=\"0.4\""))
        // Each thumbnail is a JPEG of at most 160 pixels a side, with the photo's proportions.
        let uris = html.components(separatedBy: "data:image/jpeg;base64,").dropFirst().map { String($0.prefix { $0 != "\"" }) }
        #expect(uris.count == 3)
        for (uri, photo) in zip(uris, photos) {
            let jpeg = [UInt8](try #require(Data(base64Encoded: uri)))
            let thumbnail = try ImageDecoder.decode(bytes: jpeg, name: "thumbnail")
            let original = try ImageDecoder.decode(path: photo)
            #expect(max(thumbnail.width, thumbnail.height) == min(160, max(original.width, original.height)))
            let aspect = Double(original.width) / Double(original.height), thumbAspect = Double(thumbnail.width) / Double(thumbnail.height)
            #expect(abs(aspect - thumbAspect) < 0.05)
            #expect(jpeg.count < 20_000)
        }
    }

    @Test func aDiscardedSheetLeavesNothing() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let sheet = try ContactSheet(path: directory.appendingPathComponent("sheet.html").path, title: "t", details: [], heads: ["h"], topK: 1)
        try sheet.add(sample: "x.jpg", classification: classification([("a", 1)], head: "h"))
        sheet.discard()
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory.path).isEmpty)
        #expect(throws: ReportError.self) { try ContactSheet(path: directory.path + "/sheet.png", title: "", details: [], heads: ["h"], topK: 1) }
        #expect(throws: ReportError.self) { try ContactSheet(path: directory.path + "/no/sheet.html", title: "", details: [], heads: ["h"], topK: 1) }
    }

    @Test func shrinkAveragesTheCoveredPixels() {
        // 4×2 → 2×1: each output pixel is the mean of a 2×2 block.
        let image = RGBImage(width: 4, height: 2, pixels: [0, 0, 0, 10, 10, 10, 100, 0, 0, 200, 0, 0,
                                                            20, 20, 20, 30, 30, 30, 0, 50, 0, 0, 50, 0])
        let small = Thumbnail.shrink(image, longerSide: 2)
        #expect(small.width == 2 && small.height == 1)
        #expect(small.pixels == [15, 15, 15, 75, 25, 0])
        #expect(Thumbnail.shrink(image, longerSide: 10) == image)
    }
}
