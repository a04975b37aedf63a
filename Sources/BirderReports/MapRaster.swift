import CCairo

/// The map drawn by Cairo (PNG through an image surface, PDF through a PDF surface) with the same
/// page layout as the SVG: no browser involved. Cairo's output goes through stream callbacks into
/// a `ReportFile`, so it is written atomically like every other report.
enum MapRaster {
    /// PNG pixels per layout unit: a 1650 × 1140 image.
    static let pngScale = 1.5

    static func draw(_ report: EmbeddingMapReport, format: ReportFormat, path: String) throws(ReportError) {
        try ReportFile.write(path: path) { (file) throws(ReportError) in
            let sink = CairoSink(file: file)
            let closure = Unmanaged.passUnretained(sink).toOpaque()
            let width = EmbeddingMapReport.PageLayout.width, height = EmbeddingMapReport.PageLayout.height
            let surface: OpaquePointer?
            switch format {
            case .png:
                surface = cairo_image_surface_create(CAIRO_FORMAT_RGB24, Int32(width * pngScale), Int32(height * pngScale))
            case .pdf:
                surface = cairo_pdf_surface_create_for_stream(writeToSink, closure, width, height)
            case .html, .svg:
                throw .invalidData("\(format.rawValue) is not drawn by Cairo")
            }
            guard let surface, cairo_surface_status(surface) == CAIRO_STATUS_SUCCESS else {
                if let surface { cairo_surface_destroy(surface) }
                throw .drawing(path: path, reason: "cannot create a Cairo surface")
            }
            defer { cairo_surface_destroy(surface) }
            guard let cr = cairo_create(surface) else { throw .drawing(path: path, reason: "cannot create a Cairo context") }
            defer { cairo_destroy(cr) }
            if format == .png { cairo_scale(cr, pngScale, pngScale) }
            paint(report, cr)
            let drawing = cairo_status(cr)
            guard drawing == CAIRO_STATUS_SUCCESS else {
                throw .drawing(path: path, reason: String(cString: cairo_status_to_string(drawing)))
            }
            let status: cairo_status_t
            if format == .png {
                status = cairo_surface_write_to_png_stream(surface, writeToSink, closure)
            } else {
                cairo_surface_finish(surface)
                status = cairo_surface_status(surface)
            }
            if let error = sink.error { throw error }
            guard status == CAIRO_STATUS_SUCCESS else {
                throw .drawing(path: path, reason: String(cString: cairo_status_to_string(status)))
            }
        }
    }

    /// Where Cairo's stream callback writes, and the first error it met.
    private final class CairoSink {
        let file: ReportFile
        var error: ReportError?
        init(file: ReportFile) { self.file = file }
    }

    private static let writeToSink: cairo_write_func_t = { closure, data, length in
        guard let closure, let data else { return CAIRO_STATUS_WRITE_ERROR }
        let sink = Unmanaged<CairoSink>.fromOpaque(closure).takeUnretainedValue()
        guard sink.error == nil else { return CAIRO_STATUS_WRITE_ERROR }
        do {
            try sink.file.write(bytes: UnsafeRawBufferPointer(start: data, count: Int(length)))
            return CAIRO_STATUS_SUCCESS
        } catch {
            sink.error = (error as? ReportError) ?? .io(path: sink.file.path, reason: String(describing: error))
            return CAIRO_STATUS_WRITE_ERROR
        }
    }

    private static func setColour(_ cr: OpaquePointer, _ colour: String) {
        let (r, g, b) = ClassPalette.components(colour)
        cairo_set_source_rgb(cr, r, g, b)
    }

    private static func text(_ cr: OpaquePointer, _ string: String, x: Double, y: Double, size: Double, bold: Bool = false) {
        cairo_select_font_face(cr, "sans-serif", CAIRO_FONT_SLANT_NORMAL, bold ? CAIRO_FONT_WEIGHT_BOLD : CAIRO_FONT_WEIGHT_NORMAL)
        cairo_set_font_size(cr, size)
        cairo_move_to(cr, x, y)
        // Cairo's toy text API takes UTF-8; control characters would draw as boxes.
        let clean = String(string.unicodeScalars.map { $0.value < 0x20 ? " " : Character($0) })
        cairo_show_text(cr, clean)
    }

    private static func marker(_ cr: OpaquePointer, _ marker: ClassPalette.Marker, x: Double, y: Double, radius: Double) {
        switch marker {
        case .disc, .small:
            let r = marker == .small ? radius * 0.7 : radius
            cairo_new_sub_path(cr)
            cairo_arc(cr, x, y, r, 0, 2 * Double.pi)
        case .diamond:
            let s = radius * 1.3
            cairo_move_to(cr, x, y - s)
            cairo_line_to(cr, x + s, y)
            cairo_line_to(cr, x, y + s)
            cairo_line_to(cr, x - s, y)
            cairo_close_path(cr)
        }
    }

    private static func paint(_ report: EmbeddingMapReport, _ cr: OpaquePointer) {
        typealias Layout = EmbeddingMapReport.PageLayout
        setColour(cr, "#FFFFFF")
        cairo_paint(cr)
        setColour(cr, "#1D1D1F")
        text(cr, report.title, x: 40, y: 38, size: 22, bold: true)
        setColour(cr, "#444444")
        text(cr, report.details.joined(separator: " · "), x: 40, y: 64, size: 14)
        setColour(cr, "#DDDDDD")
        cairo_set_line_width(cr, 1)
        cairo_rectangle(cr, Layout.plot.x, Layout.plot.y, Layout.plot.width, Layout.plot.height)
        cairo_stroke(cr)

        let classes = report.classes()
        let layout = Layout(bounds: report.bounds())
        let radius = Layout.radius(points: report.count)
        // One fill per run of a style (the drawing order groups them).
        var current: ClassPalette.Style?
        for i in classes.drawingOrder {
            let style = classes.palette.style(rank: classes.rank[i])
            if style != current {
                if let current { setColour(cr, current.colour); cairo_fill(cr) }
                current = style
            }
            let (x, y) = layout.point(report.coordinates[2 * i], report.coordinates[2 * i + 1])
            marker(cr, style.marker, x: x, y: y, radius: radius)
        }
        if let current { setColour(cr, current.colour); cairo_fill(cr) }

        for (line, entry) in report.legendEntries(classes).enumerated() {
            let y = Layout.legendY + Double(line) * Layout.legendLine
            setColour(cr, entry.style.colour)
            marker(cr, entry.style.marker == .small ? .disc : entry.style.marker, x: Layout.legendX + 6, y: y - 4, radius: 6)
            cairo_fill(cr)
            setColour(cr, "#1D1D1F")
            text(cr, "\(EmbeddingMapReport.shortened(entry.name)) (\(entry.count))", x: Layout.legendX + 20, y: y, size: 13)
        }
    }
}
