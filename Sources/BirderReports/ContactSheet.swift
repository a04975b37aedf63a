import Birder
import Foundation

/// A contact sheet of predictions, written while a prediction run streams: one card per image
/// with its thumbnail (downscaled, embedded as a JPEG data URI) and each head's top classes as
/// bars. The page filters by predicted class, sorts by confidence and can keep only the cards
/// below a confidence, to scan thousands of photos for the doubtful ones.
///
/// Cards go straight into the report's temporary file (`OutputFile`), so memory stays the same
/// for ten photos or a hundred thousand; `commit()` closes the page and renames it into place,
/// `discard()` (or an error) leaves nothing.
public final class ContactSheet {
    public let path: String
    private let file: ReportFile
    private let heads: [String]
    private let topK: Int
    private let thumbnailSize: Int
    public private(set) var cards = 0
    public private(set) var thumbnails = 0

    /// Checks `path` (an `.html` report that can be written) and opens its temporary file.
    public init(path: String, title: String, details: [String], heads: [String], topK: Int,
                thumbnailSize: Int = 160) throws(ReportError) {
        _ = try ReportFormat.of(path, allowed: [.html])
        guard !heads.isEmpty else { throw .invalidData("a contact sheet needs at least one head") }
        guard topK >= 1 else { throw .invalidData("top-k \(topK) must be at least 1") }
        guard (16...1024).contains(thumbnailSize) else { throw .invalidData("thumbnail size \(thumbnailSize) is not in 16…1024") }
        self.path = path
        self.heads = heads
        self.topK = topK
        self.thumbnailSize = thumbnailSize
        file = try ReportFile(path: path)
        do {
            try file.write(ReportPage.head(title: title))
            try file.write("<header><h1>\(Markup.escape(title))</h1><p class=\"details\">"
                + details.map(Markup.escape).joined(separator: " · ") + "</p></header>\n")
            var headChoice = ""
            if heads.count > 1 {
                headChoice = "<label>Head <select id=\"head\">"
                    + heads.enumerated().map { "<option value=\"\($0)\">\(Markup.escape($1))</option>" }.joined() + "</select></label>"
            }
            try file.write("""
                <div class="controls">\(headChoice)
                <label>Predicted class <select id="class"><option value="">all</option></select></label>
                <label>Sort <select id="sort"><option value="file">as listed</option><option value="asc">least confident first</option><option value="desc">most confident first</option></select></label>
                <label>Confidence below <input id="below" type="number" min="0" max="100" step="5" value="100"> %</label>
                <span id="shown"></span>
                </div>
                <main class="sheet" id="sheet">

                """)
        } catch {
            file.discard()
            throw error
        }
    }

    /// Appends the card of one image. A thumbnail that cannot be made (the image is gone, or not
    /// an image this engine decodes) leaves a placeholder naming why; the card is still written.
    public func add(sample: String, classification: Classification) throws(ReportError) {
        var picture: String
        do {
            let thumbnail = try Thumbnail.jpeg(path: sample, size: thumbnailSize)
            picture = "<img src=\"data:image/jpeg;base64,\(Data(thumbnail.bytes).base64EncodedString())\" "
                + "width=\"\(thumbnail.width)\" height=\"\(thumbnail.height)\" alt=\"\">"
            thumbnails += 1
        } catch {
            picture = "<div class=\"missing\" title=\"\(Markup.escape(String(describing: error)))\">no thumbnail</div>"
        }
        var attributes = "data-index=\"\(cards)\""
        var bars = ""
        for (h, name) in heads.enumerated() {
            let top = classification[name]?.top ?? (h < classification.heads.count ? classification.heads[h].top : [])
            let best = top.first
            attributes += " data-class-\(h)=\"\(Markup.escape(best?.name ?? ""))\" data-conf-\(h)=\"\(Markup.number(Double(best?.probability ?? 0), decimals: 5))\""
            if heads.count > 1 { bars += "<div class=\"head\">\(Markup.escape(name))</div>" }
            for (rank, score) in top.prefix(topK).enumerated() {
                let percent = Double(score.probability) * 100
                bars += "<div class=\"bar\(rank == 0 ? " top" : "")\"><span class=\"fill\" style=\"width:\(Markup.number(percent, decimals: 1))%\"></span>"
                    + "<span class=\"text\"><b>\(Markup.escape(score.name))</b><i>\(String(format: "%.1f %%", percent))</i></span></div>"
            }
        }
        try file.write("<figure class=\"card\" \(attributes)>\(picture)<figcaption><div class=\"path\">\(Markup.escape(sample))</div>"
            + bars + "</figcaption></figure>\n")
        cards += 1
    }

    /// Closes the page and moves it into place.
    public func commit() throws(ReportError) {
        do {
            try file.write("</main>\n<script>\n\(ReportPage.sheetScript)\n</script>\n</body>\n</html>\n")
            try file.commit()
        } catch {
            file.discard()
            throw error
        }
    }

    public func discard() { file.discard() }
}

extension ReportPage {
    /// The sheet's controls: the class list is gathered from the cards (per head), filtering hides
    /// cards, sorting reorders them; `#shown` and `data-shown` on the sheet say how many show.
    static let sheetScript = """
        (function () {
          'use strict';
          var sheet = document.getElementById('sheet');
          var cards = Array.prototype.slice.call(sheet.querySelectorAll('figure.card'));
          var headSelect = document.getElementById('head'), classSelect = document.getElementById('class');
          var sortSelect = document.getElementById('sort'), below = document.getElementById('below');
          var shown = document.getElementById('shown');
          function head() { return headSelect ? headSelect.value : '0'; }
          function fillClasses() {
            var counts = new Map(), h = head();
            cards.forEach(function (card) {
              var name = card.getAttribute('data-class-' + h);
              counts.set(name, (counts.get(name) || 0) + 1);
            });
            var chosen = classSelect.value;
            while (classSelect.options.length > 1) classSelect.remove(1);
            Array.from(counts.keys()).sort().forEach(function (name) {
              var option = document.createElement('option');
              option.value = name;
              option.textContent = name + ' (' + counts.get(name) + ')';
              classSelect.appendChild(option);
            });
            classSelect.value = counts.has(chosen) ? chosen : '';
          }
          function update() {
            var h = head(), wanted = classSelect.value, limit = Number(below.value) / 100;
            if (!(limit >= 0)) limit = 1;
            var visible = 0;
            cards.forEach(function (card) {
              var confidence = Number(card.getAttribute('data-conf-' + h));
              var show = (wanted === '' || card.getAttribute('data-class-' + h) === wanted) && (limit >= 1 || confidence < limit);
              card.hidden = !show;
              card.classList.toggle('low', confidence < 0.5);
              if (show) visible++;
            });
            var sorted = cards.slice();
            if (sortSelect.value !== 'file') {
              var sign = sortSelect.value === 'asc' ? 1 : -1;
              sorted.sort(function (a, b) {
                return sign * (Number(a.getAttribute('data-conf-' + h)) - Number(b.getAttribute('data-conf-' + h)))
                  || Number(a.dataset.index) - Number(b.dataset.index);
              });
            } else {
              sorted.sort(function (a, b) { return Number(a.dataset.index) - Number(b.dataset.index); });
            }
            var fragment = document.createDocumentFragment();
            sorted.forEach(function (card) { fragment.appendChild(card); });
            sheet.appendChild(fragment);
            shown.textContent = visible + ' of ' + cards.length + ' images';
            sheet.dataset.shown = String(visible);
            sheet.dataset.cards = String(cards.length);
          }
          // Initial settings from the address's fragment, e.g. sheet.html#sort=asc&below=50&class=Diptera.
          new URLSearchParams(location.hash.slice(1)).forEach(function (value, key) {
            if (key === 'sort') sortSelect.value = value;
            else if (key === 'below') below.value = value;
            else if (key === 'head' && headSelect) headSelect.value = value;
            else if (key === 'class') classSelect.dataset.initial = value;
          });
          if (headSelect) headSelect.addEventListener('change', function () { fillClasses(); update(); });
          classSelect.addEventListener('change', update);
          sortSelect.addEventListener('change', update);
          below.addEventListener('input', update);
          fillClasses();
          if (classSelect.dataset.initial) classSelect.value = classSelect.dataset.initial;
          update();
          sheet.dataset.state = 'ready';
        })();
        """
}
