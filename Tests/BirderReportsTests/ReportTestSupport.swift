import Foundation
import Testing
import BirderTestSupport
@testable import BirderReports

/// A fresh temporary directory per test.
func temporaryDirectory() throws -> URL {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("birder-reports-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    return url
}

func readText(_ path: String) throws -> String { try String(contentsOfFile: path, encoding: .utf8) }

func occurrences(of needle: String, in text: String) -> Int { text.components(separatedBy: needle).count - 1 }

/// The JSON inside `<script type="application/json" id="ID">…</script>`, parsed.
func embeddedJSON(_ html: String, id: String) throws -> [String: Any] {
    let opening = "<script type=\"application/json\" id=\"\(id)\">"
    let start = try #require(html.range(of: opening))
    let end = try #require(html.range(of: "</script>", range: start.upperBound..<html.endIndex))
    let text = String(html[start.upperBound..<end.lowerBound])
    return try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
}

/// Labels and paths meant to break out of HTML, attributes, scripts and XML.
let hostileLabels = [
    "</script><script>alert(1)</script>",
    "\"quoted\" & 'single' <b>bold</b>",
    "line\nbreak\u{2028}sep\u{1}ctl",
    "ordinary",
]

/// Points in `classes` well-separated blobs on a circle, deterministic.
func blobs(n: Int, classes: Int, seed: UInt64 = 1) -> (coordinates: [Float], labels: [String], samples: [String]) {
    var random = TestRandom(seed: seed)
    var coordinates: [Float] = [], labels: [String] = [], samples: [String] = []
    for i in 0..<n {
        let c = i % classes
        let angle = Double(c) / Double(classes) * 2 * Double.pi
        coordinates.append(Float(10 * cos(angle) + Double(random.uniform())))
        coordinates.append(Float(10 * sin(angle) + Double(random.uniform())))
        labels.append("class-\(c)")
        samples.append("photos/class-\(c)/\(i).jpg")
    }
    return (coordinates, labels, samples)
}
