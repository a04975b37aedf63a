import Foundation
import Testing
@testable import BirderReports

@Suite struct MarkupTests {
    @Test func jsonStringsCannotEndAScriptOrOpenAComment() throws {
        for label in hostileLabels + ["<!-- x", "a&b", "\u{2029}"] {
            let literal = Markup.jsonString(label)
            #expect(!literal.contains("<"), "\(literal)")
            #expect(!literal.contains(">"))
            #expect(!literal.contains("\u{2028}") && !literal.contains("\u{2029}"))
            // Still the same string once parsed.
            let parsed = try JSONSerialization.jsonObject(with: Data("[\(literal)]".utf8)) as? [String]
            #expect(parsed == [label])
        }
    }

    @Test func htmlEscapingLeavesNoMarkup() {
        let escaped = Markup.escape("</script><img src=x onerror=\"alert(1)\"> & 'q'")
        #expect(escaped == "&lt;/script&gt;&lt;img src=x onerror=&quot;alert(1)&quot;&gt; &amp; &#39;q&#39;")
        // XML forbids most control characters: they are replaced, not passed through.
        #expect(Markup.escape("a\u{1}b\tc\nd") == "a\u{FFFD}b\tc\nd")
    }

    @Test func numbersHaveNoExponentOrTrailingZeros() {
        #expect(Markup.number(1.5, decimals: 4) == "1.5")
        #expect(Markup.number(2, decimals: 4) == "2")
        #expect(Markup.number(-0.00001, decimals: 3) == "0")
        #expect(Markup.number(1e-7, decimals: 4) == "0")
        #expect(Markup.number(.nan, decimals: 2) == "0")
        #expect(Markup.number(12345.6789, decimals: 2) == "12345.68")
    }

    @Test func formatComesFromTheExtension() throws {
        #expect(ReportFormat(path: "map.html") == .html)
        #expect(ReportFormat(path: "out/MAP.SVG") == .svg)
        #expect(ReportFormat(path: "a.b/map.png") == .png)
        #expect(ReportFormat(path: "map.pdf") == .pdf)
        #expect(ReportFormat(path: "map") == nil)
        #expect(ReportFormat(path: "dir.html/map") == nil)
        #expect(ReportFormat(path: ".html") == nil)
        #expect(ReportFormat(path: "map.jpeg") == nil)
        #expect(throws: ReportError.unsupportedFormat(path: "map.jpeg", allowed: [.html])) {
            try ReportFormat.of("map.jpeg", allowed: [.html])
        }
        #expect(ReportError.unsupportedFormat(path: "m.txt", allowed: ReportFormat.allCases).description
            == "m.txt: a report's format is named by its extension: .html, .svg, .png or .pdf")
        #expect(throws: ReportError.self) { try ReportFormat.of("sheet.svg", allowed: [.html]) }
    }

    @Test func paletteGivesTwentyDistinctStylesThenGrey() {
        let labels = (0..<25).flatMap { c in Array(repeating: "c\(c)", count: 100 - c) }
        let palette = ClassPalette(labels: labels)
        #expect(palette.classes.first?.name == "c0" && palette.classes.first?.count == 100)
        let styles = (0..<20).map { palette.style(rank: $0) }
        #expect(Set(styles.map { "\($0.colour)\($0.marker)" }).count == 20)
        #expect(palette.style(rank: 20).marker == .small)
        #expect(palette.style(rank: 24) == palette.style(rank: 20))
    }

    @Test func linksPointAtReachableImagesOnly() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        try FileManager.default.createDirectory(at: directory.appendingPathComponent("photos"), withIntermediateDirectories: true)
        let inside = directory.appendingPathComponent("photos/a #1?.jpg").path
        FileManager.default.createFile(atPath: inside, contents: Data([1]))
        let outside = FileManager.default.temporaryDirectory.appendingPathComponent("birder-link-\(UUID().uuidString).jpg").path
        FileManager.default.createFile(atPath: outside, contents: Data([1]))
        defer { try? FileManager.default.removeItem(atPath: outside) }
        let links = ImageLinks.links(samples: [inside, outside, directory.appendingPathComponent("missing.jpg").path, "javascript:alert(1)"],
                                     reportPath: directory.appendingPathComponent("map.html").path)
        #expect(links[0] == "photos/a%20%231%3F.jpg")
        #expect(links[1] == "file://" + ImageLinks.encode(outside))
        #expect(links[2] == nil)
        #expect(links[3] == nil)
    }
}
