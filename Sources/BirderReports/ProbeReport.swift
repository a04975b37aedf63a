import BirderEval
import Foundation

/// How linear-probe heads classify labelled embeddings, as one HTML page: per head, top-1/top-5
/// and macro accuracy, the most-confused class pairs, a confusion heat map (at most
/// `heatMapLimit` classes: those with the most errors, confused ones side by side) and a sortable
/// table of per-class precision, recall, F1 and support.
public struct ProbeReport: Sendable {
    public struct Head: Sendable {
        public var name: String
        public var classNames: [String]
        public var metrics: LinearProbeMetrics
        public var counts: ClassificationCounts

        public init(name: String, classNames: [String], metrics: LinearProbeMetrics, counts: ClassificationCounts) throws(ReportError) {
            guard classNames.count == counts.classCount else {
                throw .invalidData("head \(name): \(classNames.count) class names for \(counts.classCount) classes")
            }
            self.name = name
            self.classNames = classNames
            self.metrics = metrics
            self.counts = counts
        }
    }

    public var title: String
    public var details: [String]
    public var heads: [Head]
    public var heatMapLimit = 30
    public var pairLimit = 15

    public init(title: String, details: [String], heads: [Head]) {
        self.title = title
        self.details = details
        self.heads = heads
    }

    /// Writes the report to `path` (`.html`), atomically.
    public func write(to path: String) throws(ReportError) {
        _ = try ReportFormat.of(path, allowed: [.html])
        try ReportFile.write(path: path) { (file) throws(ReportError) in
            try file.write(ReportPage.head(title: title))
            try file.write("<header><h1>\(Markup.escape(title))</h1><p class=\"details\">"
                + details.map(Markup.escape).joined(separator: " · ") + "</p></header>\n")
            try file.write(summaryTable())
            for (index, head) in heads.enumerated() { try write(head, index: index, file) }
            try file.write("<script>\n\(ReportPage.tableSortScript)\n</script>\n</body>\n</html>\n")
        }
    }

    private func summaryTable() -> String {
        var html = "<section><h2>Accuracy</h2><table id=\"summary\"><thead><tr><th>head</th><th>samples</th><th>classes</th>"
            + "<th>top-1</th><th>top-5</th><th>macro accuracy</th><th>macro F1</th></tr></thead><tbody>\n"
        for head in heads {
            html += "<tr><td>\(Markup.escape(head.name))</td><td>\(head.metrics.count)</td><td>\(head.counts.classCount)</td>"
                + "<td>\(Markup.percent(head.metrics.top1, decimals: 2))</td><td>\(Markup.percent(head.metrics.top5, decimals: 2))</td>"
                + "<td>\(Markup.percent(head.metrics.macro, decimals: 2))</td><td>\(Markup.percent(Self.macroF1(head.counts), decimals: 2))</td></tr>\n"
        }
        return html + "</tbody></table></section>\n"
    }

    /// Mean F1 over the classes that occur in the labels (scikit-learn's macro average over
    /// `labels=present classes`).
    static func macroF1(_ counts: ClassificationCounts) -> Double? {
        let present = (0..<counts.classCount).filter { counts.support[$0] > 0 }
        guard !present.isEmpty else { return nil }
        return present.reduce(0.0) { $0 + (counts.f1($1) ?? 0) } / Double(present.count)
    }

    private func write(_ head: Head, index: Int, _ file: ReportFile) throws(ReportError) {
        let counts = head.counts
        let names = head.classNames
        try file.write("<section class=\"head\" data-head=\"\(Markup.escape(head.name))\"><h2>\(Markup.escape(head.name))</h2>\n")

        // The most-confused pairs beside the heat map.
        let pairs = counts.confusedPairs(limit: pairLimit)
        try file.write("<div class=\"panels\"><div>\n<h3>Most-confused classes</h3>\n")
        if pairs.isEmpty {
            try file.write("<p class=\"hint\">No sample was misclassified.</p>\n")
        } else {
            try file.write("<table class=\"pairs\"><thead><tr><th>labelled</th><th>predicted as</th><th>samples</th><th>of the class</th></tr></thead><tbody>\n")
            for pair in pairs {
                try file.write("<tr><td>\(Markup.escape(names[pair.label]))</td><td>\(Markup.escape(names[pair.prediction]))</td>"
                    + "<td>\(pair.count)</td><td>\(Markup.percent(Double(pair.count) / Double(max(1, counts.support[pair.label]))))</td></tr>\n")
            }
            try file.write("</tbody></table>\n")
        }
        try file.write("</div><div>\n")

        // The heat map: rows labelled, columns predicted, each row shaded by its share.
        let shown = counts.heatMapClasses(limit: heatMapLimit)
        if !shown.isEmpty {
            let errorClasses = counts.errors.enumerated().filter { $0.element > 0 }.count
            try file.write("<h3>Confusion matrix</h3>\n<p class=\"hint\">"
                + (shown.count < counts.classCount
                    ? "The \(shown.count) classes with the most errors (of \(counts.classCount); \(errorClasses) have errors), classes confused with each other side by side. "
                    : "")
                + "Rows: labelled class; columns: predicted class; shade: share of the row.</p>\n")
            try file.write("<table class=\"heat\"><thead><tr><th></th>")
            for c in shown { try file.write("<th class=\"column\" title=\"\(Markup.escape(names[c]))\">\(Markup.escape(EmbeddingMapReport.shortened(names[c], limit: 24)))</th>") }
            try file.write("</tr></thead><tbody>\n")
            for label in shown {
                try file.write("<tr><th title=\"\(Markup.escape(names[label]))\">\(Markup.escape(EmbeddingMapReport.shortened(names[label], limit: 32)))</th>")
                let support = max(1, counts.support[label])
                for prediction in shown {
                    let n = counts.count(label: label, prediction: prediction)
                    let share = Double(n) / Double(support)
                    let colour = label == prediction ? Self.shade(share, r: 0, g: 114, b: 178) : Self.shade(share, r: 213, g: 94, b: 0)
                    let ink = share > 0.55 ? "#ffffff" : "#1d1d1f"
                    try file.write("<td style=\"background:\(colour);color:\(ink)\" title=\"\(Markup.escape(names[label])) → "
                        + "\(Markup.escape(names[prediction])): \(n)\">\(n > 0 ? String(n) : "")</td>")
                }
                try file.write("</tr>\n")
            }
            try file.write("</tbody></table>\n")
        }
        try file.write("</div></div>\n")

        // Per-class table, sortable by any column.
        try file.write("<h3>Per class</h3>\n<table class=\"per-class sortable-table\" id=\"classes-\(index)\"><thead><tr>"
            + "<th class=\"sortable\" data-type=\"text\">class</th><th class=\"sortable\">support</th><th class=\"sortable\">predicted</th>"
            + "<th class=\"sortable\">precision</th><th class=\"sortable\">recall</th><th class=\"sortable\">F1</th>"
            + "<th class=\"sortable\">errors</th></tr></thead><tbody>\n")
        for c in 0..<counts.classCount where counts.support[c] > 0 || counts.predicted[c] > 0 {
            func cell(_ value: Double?) -> String {
                "<td data-value=\"\(value.map { Markup.number($0, decimals: 6) } ?? "-1")\">\(Markup.percent(value))</td>"
            }
            try file.write("<tr><td>\(Markup.escape(names[c]))</td><td data-value=\"\(counts.support[c])\">\(counts.support[c])</td>"
                + "<td data-value=\"\(counts.predicted[c])\">\(counts.predicted[c])</td>" + cell(counts.precision(c)) + cell(counts.recall(c))
                + cell(counts.f1(c)) + "<td data-value=\"\(counts.errors[c])\">\(counts.errors[c])</td></tr>\n")
        }
        try file.write("</tbody></table>\n</section>\n")
    }

    /// White blended towards (r, g, b) by `share` (0…1).
    static func shade(_ share: Double, r: Int, g: Int, b: Int) -> String {
        guard share > 0 else { return "#f7f7f7" }
        let t = 0.12 + 0.88 * min(1, share)
        func mix(_ c: Int) -> Int { Int((255 - Double(255 - c) * t).rounded()) }
        return String(format: "#%02x%02x%02x", mix(r), mix(g), mix(b))
    }
}

extension ReportPage {
    /// Click a column heading to sort by it (again: the other way). Cells sort by `data-value`
    /// when they have one (numbers), else by their text.
    static let tableSortScript = """
        (function () {
          'use strict';
          document.querySelectorAll('table.sortable-table').forEach(function (table) {
            var headings = table.querySelectorAll('th.sortable');
            headings.forEach(function (th, column) {
              th.addEventListener('click', function () {
                var descending = th.getAttribute('aria-sort') !== 'descending';
                headings.forEach(function (other) { other.removeAttribute('aria-sort'); });
                th.setAttribute('aria-sort', descending ? 'descending' : 'ascending');
                var text = th.dataset.type === 'text';
                var body = table.tBodies[0];
                var rows = Array.prototype.slice.call(body.rows);
                rows.sort(function (a, b) {
                  var x = a.cells[column], y = b.cells[column], order;
                  if (text) order = x.textContent.localeCompare(y.textContent);
                  else order = Number(x.dataset.value) - Number(y.dataset.value);
                  return descending ? -order : order;
                });
                var fragment = document.createDocumentFragment();
                rows.forEach(function (row) { fragment.appendChild(row); });
                body.appendChild(fragment);
              });
            });
          });
        })();
        """
}
