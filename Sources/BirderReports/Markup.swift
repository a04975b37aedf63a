import Foundation

/// Text made safe for the places it lands in a report. Every label, path and name in a report
/// comes from a user's files, so none is ever written raw: a label `</script><script>…` must stay
/// a label.
enum Markup {
    /// Escapes text for HTML/SVG element content and quoted attribute values.
    static func escape(_ text: String) -> String {
        var out = ""
        out.reserveCapacity(text.utf8.count)
        for scalar in text.unicodeScalars {
            switch scalar {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            // Control characters other than tab/newline are not allowed in XML (SVG) at all.
            case _ where scalar.value < 0x20 && scalar != "\t" && scalar != "\n": out += "\u{FFFD}"
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out
    }

    /// A JSON string literal that is also safe inside an HTML `<script>` element: `<`, `>` and `&`
    /// are written as \u escapes (so neither `</script>` nor `<!--` can appear), as are U+2028/9
    /// (line terminators in older JavaScript) and every control character.
    static func jsonString(_ text: String) -> String {
        var out = "\""
        out.reserveCapacity(text.utf8.count + 2)
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case "<", ">", "&", "\u{2028}", "\u{2029}":
                out += String(format: "\\u%04x", scalar.value)
            case _ where scalar.value < 0x20 || scalar.value == 0x7F:
                out += String(format: "\\u%04x", scalar.value)
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }

    /// A number for JSON or SVG, with at most `decimals` decimals and no exponent (non-finite → 0).
    static func number(_ value: Double, decimals: Int) -> String {
        guard value.isFinite else { return "0" }
        var text = String(format: "%.\(decimals)f", value)
        if text.contains(".") {
            while text.hasSuffix("0") { text.removeLast() }
            if text.hasSuffix(".") { text.removeLast() }
        }
        return text == "-0" ? "0" : text
    }

    static func percent(_ value: Double?, decimals: Int = 1) -> String {
        guard let value else { return "–" }
        return String(format: "%.\(decimals)f %%", value * 100)
    }
}
