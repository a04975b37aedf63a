/// The parts every HTML report shares: the document head with its style sheet, and the script
/// that counts script errors on the page (the browser test asserts there are none). Everything is
/// inline: reports open offline, with no CDN, font or script fetched from anywhere.
enum ReportPage {
    static func head(title: String) -> String {
        """
        <!DOCTYPE html>
        <html lang="en">
        <head>
        <meta charset="utf-8">
        <meta name="viewport" content="width=device-width, initial-scale=1">
        <meta http-equiv="Content-Security-Policy" content="default-src 'none'; img-src data: file: blob: 'self'; style-src 'unsafe-inline'; script-src 'unsafe-inline'">
        <title>\(Markup.escape(title))</title>
        <style>\(style)</style>
        <script>\(errorCounter)</script>
        </head>
        <body>

        """
    }

    /// Errors and `console.error` calls are counted on `<html data-errors>`, so a test that can
    /// only read the DOM still sees them.
    static let errorCounter = """
        (function () {
          var root = document.documentElement;
          function count(message) {
            root.dataset.errors = String((Number(root.dataset.errors) || 0) + 1);
            root.dataset.lastError = String(message).slice(0, 300);
          }
          window.addEventListener('error', function (e) { count(e.message); });
          window.addEventListener('unhandledrejection', function (e) { count(e.reason); });
          var original = console.error;
          console.error = function () { count(Array.prototype.join.call(arguments, ' ')); original.apply(console, arguments); };
        })();
        """

    static let style = """
        :root { color-scheme: light; --ink: #1d1d1f; --muted: #5f6368; --line: #dddddd; --accent: #0072B2; }
        * { box-sizing: border-box; }
        body { margin: 0; font: 14px/1.4 system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif; color: var(--ink); background: #fafafa; }
        header { padding: 16px 24px 8px; background: #ffffff; border-bottom: 1px solid var(--line); }
        h1 { font-size: 20px; margin: 0 0 4px; }
        h2 { font-size: 16px; margin: 16px 0 8px; }
        .details { margin: 0; color: var(--muted); }
        section { padding: 8px 24px; }
        table { border-collapse: collapse; background: #ffffff; }
        th, td { padding: 3px 10px; border-bottom: 1px solid var(--line); text-align: right; white-space: nowrap; }
        th:first-child, td:first-child { text-align: left; }
        th.sortable { cursor: pointer; user-select: none; }
        th.sortable::after { content: " ↕"; color: #aaaaaa; }
        th[aria-sort="ascending"]::after { content: " ↑"; color: var(--ink); }
        th[aria-sort="descending"]::after { content: " ↓"; color: var(--ink); }
        .map { display: flex; gap: 16px; padding: 16px 24px; align-items: flex-start; }
        #plot { position: relative; flex: 1; min-width: 300px; background: #ffffff; border: 1px solid var(--line); }
        #map { display: block; cursor: crosshair; }
        #tip { position: absolute; pointer-events: none; background: rgba(29,29,31,0.92); color: #ffffff; padding: 4px 8px; border-radius: 4px; max-width: 420px; overflow-wrap: anywhere; font-size: 12px; }
        aside { width: 260px; }
        #legend { list-style: none; padding: 0; margin: 0; }
        #legend li { display: flex; align-items: center; gap: 6px; padding: 2px 4px; cursor: pointer; border-radius: 3px; }
        #legend li.active { background: #e8f0fe; }
        #legend li .name { flex: 1; overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
        #legend li .count { color: var(--muted); }
        .swatch { width: 12px; height: 12px; flex: none; border-radius: 50%; }
        .swatch.diamond { border-radius: 0; transform: rotate(45deg) scale(0.85); }
        .swatch.small { transform: scale(0.6); }
        .hint { color: var(--muted); font-size: 12px; }
        .panels { display: flex; flex-wrap: wrap; gap: 16px 40px; align-items: flex-start; }
        .pairs td:nth-child(2), .pairs th:nth-child(2) { text-align: left; }
        .heat td { padding: 0; width: 22px; height: 22px; border: 1px solid #ffffff; text-align: center; font-size: 10px; }
        .heat th { font-weight: normal; font-size: 11px; }
        .heat th.column { writing-mode: vertical-rl; transform: rotate(180deg); text-align: left; padding: 4px 0; max-height: 160px; overflow: hidden; }
        .controls { display: flex; gap: 16px; align-items: center; padding: 8px 24px; background: #ffffff; border-bottom: 1px solid var(--line); position: sticky; top: 0; z-index: 1; }
        .sheet { display: grid; grid-template-columns: repeat(auto-fill, minmax(200px, 1fr)); gap: 12px; padding: 16px 24px; }
        .card { background: #ffffff; border: 1px solid var(--line); border-radius: 6px; overflow: hidden; margin: 0; }
        .card img, .card .missing { display: block; width: 100%; height: 150px; object-fit: contain; background: #eeeeee; }
        .card .missing { display: flex; align-items: center; justify-content: center; color: var(--muted); }
        .card figcaption { padding: 6px 8px; }
        .card .path { font-size: 11px; color: var(--muted); overflow-wrap: anywhere; }
        .card .head { font-size: 11px; color: var(--muted); margin-top: 4px; }
        .bar { position: relative; height: 16px; margin: 2px 0; background: #f0f0f0; border-radius: 2px; font-size: 11px; line-height: 16px; }
        .bar span.fill { position: absolute; left: 0; top: 0; bottom: 0; background: #9ecae1; border-radius: 2px; }
        .bar span.text { position: relative; padding: 0 4px; display: flex; justify-content: space-between; gap: 4px; }
        .bar span.text b { font-weight: normal; overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
        .card.low .bar.top span.fill { background: #fdae6b; }
        """
}
