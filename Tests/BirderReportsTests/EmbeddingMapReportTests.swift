import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif
import Testing
import BirderTestSupport
@testable import BirderReports

@Suite struct EmbeddingMapReportTests {
    /// 30 samples: three large classes and the hostile labels, one sample each.
    func hostileReport() throws -> EmbeddingMapReport {
        var (coordinates, labels, samples) = blobs(n: 26, classes: 3)
        for (i, label) in hostileLabels.enumerated() {
            labels.append(label)
            samples.append("photos/\(label)/x\(i).jpg")
            coordinates += [Float(i), -Float(i)]
        }
        return try EmbeddingMapReport(title: "model </title><script>alert(1)</script> — AMI 0.5", details: ["embeddings: \"x\".npy"],
                                      samples: samples, labels: labels, coordinates: coordinates,
                                      links: samples.map { _ in "javascript\"<>" })
    }

    @Test func htmlCarriesEveryPointAndHostileTextStaysData() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let report = try hostileReport()
        let path = directory.appendingPathComponent("map.html").path
        try report.write(to: path)
        let html = try readText(path)
        // Three scripts (the error counter, the data, the map): nothing in the data closed one early.
        #expect(occurrences(of: "</script>", in: html) == 3)
        #expect(occurrences(of: "<script", in: html) == 3)
        #expect(!html.contains("<script>alert"))
        #expect(html.contains("<title>model &lt;/title&gt;&lt;script&gt;alert(1)&lt;/script&gt; — AMI 0.5</title>"))
        // Nothing is fetched from anywhere: no external script, style, font or image.
        #expect(!html.contains("src=\"http") && !html.contains("href=\"http") && !html.contains("@import") && !html.contains("url("))

        let data = try embeddedJSON(html, id: "map-data")
        #expect(data["n"] as? Int == report.count)
        #expect((data["x"] as? [Double])?.count == report.count)
        #expect((data["y"] as? [Double])?.count == report.count)
        #expect(data["samples"] as? [String] == report.samples)
        #expect(data["links"] as? [String] == report.links.map { $0! })
        let classes = try #require(data["classes"] as? [[Any]])
        #expect(classes.count == 7)
        // Largest first, with counts; each point's rank names its own label.
        #expect(classes.map { $0[1] as? Int } == [9, 9, 8, 1, 1, 1, 1])
        let ranks = try #require(data["c"] as? [Int])
        for i in 0..<report.count { #expect(classes[ranks[i]][0] as? String == report.labels[i]) }
        #expect(Set(try #require(data["order"] as? [Int])) == Set(0..<report.count))
        // Coordinates survive to 4 decimals.
        let xs = try #require(data["x"] as? [Double])
        for i in 0..<report.count { #expect(abs(xs[i] - Double(report.coordinates[2 * i])) < 1e-4) }
    }

    @Test func svgIsWellFormedXMLWithOnePointPerSample() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let report = try hostileReport()
        let path = directory.appendingPathComponent("map.svg").path
        try report.write(to: path)
        let counter = SVGCounter()
        let parser = XMLParser(contentsOf: URL(fileURLWithPath: path))!
        parser.delegate = counter
        #expect(parser.parse(), "\(String(describing: parser.parserError))")
        #expect(counter.points == report.count)
        #expect(counter.legendEntries == 7)
        // The hostile labels come back as text of the points' titles.
        for label in hostileLabels.prefix(2) { #expect(counter.titles.contains { $0.hasSuffix("— " + label) }, "\(label)") }
    }

    @Test func pngAndPDFAreDrawnByCairo() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let (coordinates, labels, samples) = blobs(n: 3_000, classes: 25)
        let report = try EmbeddingMapReport(title: "blobs — AMI 1.0000", details: ["synthetic"], samples: samples, labels: labels,
                                            coordinates: coordinates)
        let png = directory.appendingPathComponent("map.png").path
        try report.write(to: png)
        let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: png)))
        #expect(Array(bytes.prefix(8)) == [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A])
        // IHDR: width and height big-endian at 16 and 20.
        func bigEndian(_ at: Int) -> Int { bytes[at..<(at + 4)].reduce(0) { $0 << 8 | Int($1) } }
        #expect(bigEndian(16) == 1650 && bigEndian(20) == 1140)
        // Drawn, not blank: a real picture compresses to well over a blank page's few KB.
        #expect(bytes.count > 20_000, "\(bytes.count) bytes")

        let pdf = directory.appendingPathComponent("map.PDF").path
        try report.write(to: pdf)
        let document = try Data(contentsOf: URL(fileURLWithPath: pdf))
        #expect(document.prefix(5) == Data("%PDF-".utf8))
        #expect(document.count > 10_000)
        // No temporary was left beside them.
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory.path).sorted() == ["map.PDF", "map.png"])
    }

    @Test func tenThousandPointsInEveryFormat() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let (coordinates, labels, samples) = blobs(n: 10_000, classes: 40)
        let report = try EmbeddingMapReport(title: "10k", details: [], samples: samples, labels: labels, coordinates: coordinates)
        for format in ReportFormat.allCases {
            let path = directory.appendingPathComponent("map.\(format.rawValue)").path
            let clock = ContinuousClock.now
            try report.write(to: path)
            let size = try #require(try FileManager.default.attributesOfItem(atPath: path)[.size] as? Int)
            print("10,000-point map as \(format.rawValue): \(size) bytes in \(ContinuousClock.now - clock)")
            #expect(size > 10_000)
        }
        let html = try readText(directory.appendingPathComponent("map.html").path)
        #expect(try embeddedJSON(html, id: "map-data")["n"] as? Int == 10_000)
        #expect(occurrences(of: "class=\"point\"", in: try readText(directory.appendingPathComponent("map.svg").path)) == 10_000)
    }

    /// The map of 100,000 points the browser benchmark opens (BENCHMARKS.md "Reports"): written
    /// whole, every point in its data. `BIRDER_MAP_BENCHMARK_OUTPUT=FILE` keeps a copy for it.
    @Test func aHundredThousandPointMap() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let (coordinates, labels, samples) = blobs(n: 100_000, classes: 30, seed: 3)
        let report = try EmbeddingMapReport(title: "100,000 synthetic points", details: ["30 classes"], samples: samples,
                                            labels: labels, coordinates: coordinates)
        let path = directory.appendingPathComponent("map.html").path
        let clock = ContinuousClock.now
        try report.write(to: path)
        print("100,000-point HTML map written in \(ContinuousClock.now - clock)")
        let html = try readText(path)
        let data = try embeddedJSON(html, id: "map-data")
        #expect(data["n"] as? Int == 100_000)
        #expect((data["samples"] as? [String])?.count == 100_000)
        #expect((data["classes"] as? [[Any]])?.count == 30)
        if let copy = ProcessInfo.processInfo.environment["BIRDER_MAP_BENCHMARK_OUTPUT"] {
            try? FileManager.default.removeItem(atPath: copy)
            try FileManager.default.copyItem(atPath: path, toPath: copy)
        }
    }

    @Test func mismatchedDataIsRefused() throws {
        #expect(throws: ReportError.self) {
            try EmbeddingMapReport(title: "", details: [], samples: ["a"], labels: ["x", "y"], coordinates: [0, 0])
        }
        #expect(throws: ReportError.self) {
            try EmbeddingMapReport(title: "", details: [], samples: ["a"], labels: ["x"], coordinates: [0])
        }
        #expect(throws: ReportError.self) { try EmbeddingMapReport(title: "", details: [], samples: [], labels: [], coordinates: []) }
    }

    @Test func anUnwritableReportLeavesNothing() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let report = try EmbeddingMapReport(title: "t", details: [], samples: ["a", "b"], labels: ["x", "y"], coordinates: [0, 0, 1, 1])
        #expect(throws: ReportError.self) { try report.write(to: directory.appendingPathComponent("missing/map.html").path) }
        #expect(throws: ReportError.unsupportedFormat(path: directory.path + "/map.gif", allowed: ReportFormat.allCases)) {
            try report.write(to: directory.path + "/map.gif")
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory.path).isEmpty)
    }
}

/// Counts the SVG's points and legend entries and collects the points' titles.
final class SVGCounter: NSObject, XMLParserDelegate {
    var points = 0, legendEntries = 0
    var titles: [String] = []
    private var inTitle = false
    private var text = ""

    func parser(_ parser: XMLParser, didStartElement name: String, namespaceURI: String?, qualifiedName: String?,
                attributes: [String: String] = [:]) {
        if attributes["class"] == "point" { points += 1 }
        if attributes["class"] == "legend-entry" { legendEntries += 1 }
        if name == "title" { inTitle = true; text = "" }
    }

    func parser(_ parser: XMLParser, foundCharacters string: String) { if inTitle { text += string } }

    func parser(_ parser: XMLParser, didEndElement name: String, namespaceURI: String?, qualifiedName: String?) {
        if name == "title" { inTitle = false; titles.append(text) }
    }
}
