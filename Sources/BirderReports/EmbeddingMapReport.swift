import Foundation

/// A scatter plot of embeddings in 2-D (`EmbeddingMap.coordinates`), one point per sample coloured
/// by its label: the 20 largest classes in `ClassPalette`'s colours and markers, the rest grey,
/// with a legend of counts. Written as interactive HTML (hover: path and label; click: the image,
/// when it can be reached), SVG, PNG or PDF (`write(to:)` picks by extension).
public struct EmbeddingMapReport: Sendable {
    public var title: String
    /// Lines under the title (model, AMI, counts).
    public var details: [String]
    public var samples: [String]
    public var labels: [String]
    /// Row-major n × 2.
    public var coordinates: [Float]
    /// Per sample, what a click opens in the HTML map (nil: nothing); `ImageLinks` makes them.
    public var links: [String?]

    public init(title: String, details: [String], samples: [String], labels: [String], coordinates: [Float],
                links: [String?]? = nil) throws(ReportError) {
        guard labels.count == samples.count else {
            throw .invalidData("\(labels.count) labels for \(samples.count) samples")
        }
        guard coordinates.count == samples.count * 2 else {
            throw .invalidData("\(coordinates.count) coordinates for \(samples.count) samples (2 each)")
        }
        if let links, links.count != samples.count { throw .invalidData("\(links.count) links for \(samples.count) samples") }
        guard !samples.isEmpty else { throw .invalidData("no samples to draw") }
        self.title = title
        self.details = details
        self.samples = samples
        self.labels = labels
        self.coordinates = coordinates
        self.links = links ?? Array(repeating: nil, count: samples.count)
    }

    public var count: Int { samples.count }

    /// Writes the map in the format `path`'s extension names (.html, .svg, .png, .pdf), atomically.
    public func write(to path: String) throws(ReportError) {
        let format = try ReportFormat.of(path, allowed: ReportFormat.allCases)
        switch format {
        case .html: try ReportFile.write(path: path) { (file) throws(ReportError) in try writeHTML(file) }
        case .svg: try ReportFile.write(path: path) { (file) throws(ReportError) in try writeSVG(file) }
        case .png, .pdf: try MapRaster.draw(self, format: format, path: path)
        }
    }

    // MARK: Shared by the renderers

    /// Classes largest first, each point's rank among them, and the order points are drawn in
    /// (grey classes first, then the coloured ones from the largest, so small classes stay visible).
    struct Classes {
        let palette: ClassPalette
        let rank: [Int]
        let drawingOrder: [Int]
        var otherClasses: Int { max(0, palette.classes.count - ClassPalette.highlighted) }
        var otherCount: Int { palette.classes.dropFirst(ClassPalette.highlighted).reduce(0) { $0 + $1.count } }
    }

    func classes() -> Classes {
        let palette = ClassPalette(labels: labels)
        let rankOf = Dictionary(uniqueKeysWithValues: palette.classes.enumerated().map { ($1.name, $0) })
        let rank = labels.map { rankOf[$0]! }
        let order = (0..<count).sorted { a, b in
            let ra = rank[a] >= ClassPalette.highlighted ? -1 : rank[a], rb = rank[b] >= ClassPalette.highlighted ? -1 : rank[b]
            return (ra, a) < (rb, b)
        }
        return Classes(palette: palette, rank: rank, drawingOrder: order)
    }

    /// Data bounds with a 3 % margin (a degenerate axis gets a unit range).
    func bounds() -> (minX: Double, maxX: Double, minY: Double, maxY: Double) {
        var minX = Double.infinity, maxX = -Double.infinity, minY = Double.infinity, maxY = -Double.infinity
        for i in 0..<count {
            let x = Double(coordinates[2 * i]), y = Double(coordinates[2 * i + 1])
            guard x.isFinite, y.isFinite else { continue }
            minX = min(minX, x); maxX = max(maxX, x); minY = min(minY, y); maxY = max(maxY, y)
        }
        if !minX.isFinite { minX = 0; maxX = 1; minY = 0; maxY = 1 }
        if maxX - minX < 1e-9 { minX -= 0.5; maxX += 0.5 }
        if maxY - minY < 1e-9 { minY -= 0.5; maxY += 0.5 }
        let mx = (maxX - minX) * 0.03, my = (maxY - minY) * 0.03
        return (minX - mx, maxX + mx, minY - my, maxY + my)
    }

    /// The fixed page of the SVG, PNG and PDF renderings: plot on the left, legend on the right.
    struct PageLayout {
        static let width = 1100.0, height = 760.0
        static let plot = (x: 40.0, y: 90.0, width: 740.0, height: 630.0)
        static let legendX = 810.0, legendY = 100.0, legendLine = 26.0

        let bounds: (minX: Double, maxX: Double, minY: Double, maxY: Double)

        func point(_ x: Float, _ y: Float) -> (Double, Double) {
            let px = Self.plot.x + (Double(x) - bounds.minX) / (bounds.maxX - bounds.minX) * Self.plot.width
            // Screen y grows downwards.
            let py = Self.plot.y + (bounds.maxY - Double(y)) / (bounds.maxY - bounds.minY) * Self.plot.height
            return (px, py)
        }
        /// Marker radius: smaller as points crowd.
        static func radius(points: Int) -> Double { points > 20_000 ? 1.2 : points > 2_000 ? 2.0 : 3.5 }
    }

    /// Legend lines: up to 20 classes, then "other (k classes)".
    func legendEntries(_ classes: Classes) -> [(name: String, count: Int, style: ClassPalette.Style)] {
        var entries = classes.palette.classes.prefix(ClassPalette.highlighted).enumerated().map { rank, entry in
            (name: entry.name, count: entry.count, style: classes.palette.style(rank: rank))
        }
        if classes.otherClasses > 0 {
            entries.append((name: "other (\(classes.otherClasses) classes)", count: classes.otherCount,
                            style: classes.palette.style(rank: ClassPalette.highlighted)))
        }
        return entries
    }

    /// Cuts a legend name to `limit` characters.
    static func shortened(_ name: String, limit: Int = 28) -> String {
        name.count > limit ? String(name.prefix(limit - 1)) + "…" : name
    }

    // MARK: SVG

    func writeSVG(_ file: ReportFile) throws(ReportError) {
        let classes = classes()
        let layout = PageLayout(bounds: bounds())
        let radius = PageLayout.radius(points: count)
        let r = Markup.number(radius, decimals: 2)
        try file.write("""
            <?xml version="1.0" encoding="UTF-8"?>
            <svg xmlns="http://www.w3.org/2000/svg" width="\(Int(PageLayout.width))" height="\(Int(PageLayout.height))" \
            viewBox="0 0 \(Int(PageLayout.width)) \(Int(PageLayout.height))" font-family="sans-serif" data-points="\(count)">
            <rect width="100%" height="100%" fill="#ffffff"/>
            <text x="40" y="38" font-size="22" font-weight="bold">\(Markup.escape(title))</text>
            <text x="40" y="64" font-size="14" fill="#444444">\(Markup.escape(details.joined(separator: " · ")))</text>
            <rect x="\(PageLayout.plot.x)" y="\(PageLayout.plot.y)" width="\(PageLayout.plot.width)" height="\(PageLayout.plot.height)" fill="none" stroke="#dddddd"/>
            <g id="points" stroke="none">

            """)
        for i in classes.drawingOrder {
            let (x, y) = layout.point(coordinates[2 * i], coordinates[2 * i + 1])
            let style = classes.palette.style(rank: classes.rank[i])
            let cx = Markup.number(x, decimals: 1), cy = Markup.number(y, decimals: 1)
            let tip = "<title>\(Markup.escape(samples[i])) — \(Markup.escape(labels[i]))</title>"
            switch style.marker {
            case .disc:
                try file.write("<circle class=\"point\" cx=\"\(cx)\" cy=\"\(cy)\" r=\"\(r)\" fill=\"\(style.colour)\">\(tip)</circle>\n")
            case .small:
                try file.write("<circle class=\"point\" cx=\"\(cx)\" cy=\"\(cy)\" r=\"\(Markup.number(radius * 0.7, decimals: 2))\" fill=\"\(style.colour)\">\(tip)</circle>\n")
            case .diamond:
                let s = radius * 1.3
                try file.write("<path class=\"point\" d=\"M\(cx) \(Markup.number(y - s, decimals: 1))L\(Markup.number(x + s, decimals: 1)) \(cy)L\(cx) \(Markup.number(y + s, decimals: 1))L\(Markup.number(x - s, decimals: 1)) \(cy)Z\" fill=\"\(style.colour)\">\(tip)</path>\n")
            }
        }
        try file.write("</g>\n<g id=\"legend\" font-size=\"13\">\n")
        for (line, entry) in legendEntries(classes).enumerated() {
            let y = PageLayout.legendY + Double(line) * PageLayout.legendLine
            let swatch: String
            switch entry.style.marker {
            case .disc, .small: swatch = "<circle cx=\"\(PageLayout.legendX + 6)\" cy=\"\(y - 4)\" r=\"6\" fill=\"\(entry.style.colour)\"/>"
            case .diamond:
                let cx = PageLayout.legendX + 6, cy = y - 4
                swatch = "<path d=\"M\(cx) \(cy - 7)L\(cx + 7) \(cy)L\(cx) \(cy + 7)L\(cx - 7) \(cy)Z\" fill=\"\(entry.style.colour)\"/>"
            }
            try file.write("<g class=\"legend-entry\">\(swatch)<text x=\"\(PageLayout.legendX + 20)\" y=\"\(y)\">"
                + "\(Markup.escape(Self.shortened(entry.name))) (\(entry.count))</text></g>\n")
        }
        try file.write("</g>\n</svg>\n")
    }

    // MARK: HTML

    func writeHTML(_ file: ReportFile) throws(ReportError) {
        let classes = classes()
        try file.write(ReportPage.head(title: title))
        try file.write("""
            <header><h1>\(Markup.escape(title))</h1>
            <p class="details">\(details.map(Markup.escape).joined(separator: " · "))</p></header>
            <main class="map">
            <div id="plot"><canvas id="map" data-state="loading"></canvas><div id="tip" hidden></div></div>
            <aside><h2>Classes</h2><ol id="legend"></ol>
            <p class="hint">Hover a point for its sample; click to open its image (when reachable). Click a class to show it alone.</p></aside>
            </main>
            <script type="application/json" id="map-data">
            """)
        // The data as JSON: coordinates, each point's class rank, class names and counts, samples
        // and links. Every string goes through `Markup.jsonString`, which cannot end the script.
        try file.write("{\"n\":\(count),\"x\":[")
        try writeNumbers(file, (0..<count).map { coordinates[2 * $0] })
        try file.write("],\"y\":[")
        try writeNumbers(file, (0..<count).map { coordinates[2 * $0 + 1] })
        try file.write("],\"c\":[")
        try writeJoined(file, classes.rank.lazy.map(String.init))
        try file.write("],\"classes\":[")
        try writeJoined(file, classes.palette.classes.enumerated().lazy.map { rank, entry in
            let style = classes.palette.style(rank: rank)
            return "[\(Markup.jsonString(entry.name)),\(entry.count),\"\(style.colour)\",\"\(style.marker.rawValue)\"]"
        })
        try file.write("],\"samples\":[")
        try writeJoined(file, samples.lazy.map(Markup.jsonString))
        try file.write("],\"links\":[")
        try writeJoined(file, links.lazy.map { $0.map(Markup.jsonString) ?? "null" })
        try file.write("],\"order\":[")
        try writeJoined(file, classes.drawingOrder.lazy.map(String.init))
        try file.write("]}\n</script>\n<script>\n\(ReportPage.mapScript)\n</script>\n</body>\n</html>\n")
    }

    private func writeNumbers(_ file: ReportFile, _ values: [Float]) throws(ReportError) {
        try writeJoined(file, values.lazy.map { Markup.number(Double($0), decimals: 4) })
    }

    private func writeJoined<S: Sequence>(_ file: ReportFile, _ items: S) throws(ReportError) where S.Element == String {
        var first = true
        var chunk = ""
        for item in items {
            if !first { chunk += "," }
            first = false
            chunk += item
            if chunk.utf8.count > 1 << 15 { try file.write(chunk); chunk = "" }
        }
        try file.write(chunk)
    }
}
