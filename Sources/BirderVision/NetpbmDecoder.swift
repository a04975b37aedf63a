/// Binary Netpbm images (P4 bitmap, P5 greymap, P6 pixmap — torchvision's folder loader picks
/// `.pgm` and `.ppm`) decoded by hand to the pixels of Pillow's `convert("RGB")`, following
/// Pillow's PpmImagePlugin: header tokens separated by whitespace, `#` comments to the end of the
/// line, one whitespace byte before the data; P4 bit 1 is black; a maximum value other than 255
/// scales each sample to `round(v / maxval * 255)` (Python's rounding, half to even; values above
/// maxval clamp), two bytes per sample above 255 (P6 only).
/// The ASCII variants (P1–P3), PAM, PFM and 16-bit greymaps (Pillow's 32-bit "I" mode) are refused.
enum NetpbmDecoder {
    static func decode(_ bytes: [UInt8], name: String, maxPixels: Int) throws(ImageError) -> RGBImage {
        func corrupt(_ reason: String) -> ImageError { .corrupt(path: name, format: .netpbm, reason: reason) }
        var position = 2
        func isSpace(_ b: UInt8) -> Bool { b == 0x20 || b == 0x09 || b == 0x0A || b == 0x0B || b == 0x0C || b == 0x0D }
        /// Pillow's `_read_token`: at most 10 characters, comments skipped, one delimiter consumed.
        func token() throws(ImageError) -> Int {
            var text: [UInt8] = []
            while text.count <= 10 {
                guard position < bytes.count else { break }
                let c = bytes[position]
                position += 1
                if isSpace(c) {
                    if text.isEmpty { continue }
                    break
                } else if c == UInt8(ascii: "#") {
                    while position < bytes.count, bytes[position] != 0x0A, bytes[position] != 0x0D { position += 1 }
                    position += 1
                    continue
                }
                text.append(c)
            }
            guard !text.isEmpty else { throw ImageError.truncated(path: name, format: .netpbm, reason: "the header ends early") }
            guard text.count <= 10, text.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }), let value = Int(String(decoding: text, as: UTF8.self)) else {
                throw corrupt("header field '\(String(decoding: text.prefix(12), as: UTF8.self))' is not a number")
            }
            return value
        }
        let kind = bytes[1]
        let plain = (UInt8(ascii: "1")...UInt8(ascii: "3")).contains(kind)
        let width = try token(), height = try token()
        let maxval = kind == UInt8(ascii: "4") || kind == UInt8(ascii: "1") ? 1 : try token()
        guard width > 0, height > 0 else { throw corrupt("image of \(width)×\(height) pixels") }
        guard maxval > 0, maxval < 65536 else { throw corrupt("maximum value \(maxval)") }
        let (pixels, overflow) = width.multipliedReportingOverflow(by: height)
        guard !overflow, pixels <= maxPixels else {
            throw ImageError.tooLarge(path: name, format: .netpbm, width: width, height: height, limit: maxPixels)
        }
        if (kind == UInt8(ascii: "5") || kind == UInt8(ascii: "2")) && maxval > 255 {
            throw ImageError.unsupported(path: name, format: .netpbm, reason: "16-bit greymaps (Pillow reads them as 32-bit integers)")
        }
        if plain {
            return try plainPixels(bytes[position...], kind: kind, width: width, height: height, maxval: maxval, name: name)
        }
        let channels = kind == UInt8(ascii: "6") ? 3 : 1
        let sampleBytes = maxval > 255 ? 2 : 1
        let rowBytes = kind == UInt8(ascii: "4") ? (width + 7) / 8 : width * channels * sampleBytes
        let needed = rowBytes * height
        guard bytes.count - position >= needed else {
            throw ImageError.truncated(path: name, format: .netpbm, reason: "\(max(0, bytes.count - position)) bytes of pixel data for \(needed)")
        }
        // Scaled sample values, as Pillow's ppm decoder computes them.
        let scale: [UInt8]? = maxval == 255 || kind == UInt8(ascii: "4") ? nil : (0...min(maxval, 65535)).map { v in
            UInt8(min(255, (Double(v) / Double(maxval) * 255).rounded(.toNearestOrEven)))
        }
        let start = position
        return RGBImage(width: width, height: height) { out in
            for y in 0..<height {
                let row = start + y * rowBytes
                for x in 0..<width {
                    let o = (y * width + x) * 3
                    if kind == UInt8(ascii: "4") {
                        let v: UInt8 = (bytes[row + x >> 3] >> (7 - UInt8(x & 7))) & 1 == 1 ? 0 : 255
                        out[o] = v; out[o + 1] = v; out[o + 2] = v
                        continue
                    }
                    for c in 0..<3 {
                        let s = row + (x * channels + (channels == 3 ? c : 0)) * sampleBytes
                        let raw = sampleBytes == 2 ? Int(bytes[s]) << 8 | Int(bytes[s + 1]) : Int(bytes[s])
                        out[o + c] = scale.map { $0[min(raw, maxval)] } ?? UInt8(raw)
                    }
                }
            }
        }
    }

    /// The pixels of a plain (ASCII) file from its data (everything after the header's last
    /// delimiter), as Pillow's PpmPlainDecoder reads them.
    private static func plainPixels(_ data: ArraySlice<UInt8>, kind: UInt8, width: Int, height: Int, maxval: Int,
                                    name: String) throws(ImageError) -> RGBImage {
        func corrupt(_ reason: String) -> ImageError { .corrupt(path: name, format: .netpbm, reason: reason) }
        func isSpace(_ b: UInt8) -> Bool { b == 0x20 || b == 0x09 || b == 0x0A || b == 0x0B || b == 0x0C || b == 0x0D }
        let channels = kind == UInt8(ascii: "3") ? 3 : 1
        let wanted = width * height * channels
        var samples = [UInt8]()
        samples.reserveCapacity(wanted)
        // Python's round(v / maxval * 255), half to even, for every value allowed.
        let scale = (0...maxval).map { UInt8((Double($0) / Double(maxval) * 255).rounded(.toNearestOrEven)) }
        var index = data.startIndex
        var token: [UInt8] = []
        func finishToken() throws(ImageError) {
            defer { token.removeAll(keepingCapacity: true) }
            guard !token.isEmpty, samples.count < wanted else { return }
            guard token.count <= 10 else { throw corrupt("sample '\(String(decoding: token.prefix(11), as: UTF8.self))' is too long") }
            guard let value = pythonInt(token) else { throw corrupt("sample '\(String(decoding: token, as: UTF8.self))' is not a number") }
            guard value >= 0 else { throw corrupt("sample \(value) is negative") }
            guard value <= maxval else { throw corrupt("sample \(value) is above the maximum value \(maxval)") }
            samples.append(scale[value])
        }
        while index < data.endIndex, samples.count < wanted {
            let c = data[index]
            index += 1
            if c == UInt8(ascii: "#") {
                // A comment ends at CR or LF; the line break goes with it.
                while index < data.endIndex, data[index] != 0x0A, data[index] != 0x0D { index += 1 }
                index += 1
                continue
            }
            if kind == UInt8(ascii: "1") {
                if isSpace(c) { continue }
                guard c == UInt8(ascii: "0") || c == UInt8(ascii: "1") else {
                    throw corrupt("'\(String(decoding: [c], as: UTF8.self))' in a bitmap, where only 0 and 1 are pixels")
                }
                samples.append(c == UInt8(ascii: "1") ? 0 : 255)
            } else if isSpace(c) {
                try finishToken()
            } else {
                token.append(c)
                if token.count > 10 { try finishToken() }
            }
        }
        try finishToken()
        if kind == UInt8(ascii: "1"), index > data.startIndex {
            // Pillow checks every byte of the 1 MiB block that completes the pixels, so a stray
            // character after them is an error too.
            let block = 1 << 20
            let blockEnd = min(data.endIndex, data.startIndex + ((index - data.startIndex - 1) / block + 1) * block)
            while index < blockEnd {
                let c = data[index]
                index += 1
                if c == UInt8(ascii: "#") {
                    while index < data.endIndex, data[index] != 0x0A, data[index] != 0x0D { index += 1 }
                    index += 1
                } else if !isSpace(c), c != UInt8(ascii: "0"), c != UInt8(ascii: "1") {
                    throw corrupt("'\(String(decoding: [c], as: UTF8.self))' in a bitmap, where only 0 and 1 are pixels")
                }
            }
        }
        guard samples.count == wanted else {
            throw ImageError.truncated(path: name, format: .netpbm, reason: "\(samples.count) of \(wanted) samples")
        }
        return RGBImage(width: width, height: height) { out in
            for pixel in 0..<(width * height) {
                for c in 0..<3 { out[pixel * 3 + c] = samples[pixel * channels + (channels == 3 ? c : 0)] }
            }
        }
    }

    /// Python's `int(bytes)` for a token without whitespace: an optional sign, then decimal digits
    /// with single underscores between them; nil where Python raises.
    static func pythonInt(_ token: [UInt8]) -> Int? {
        var digits = token[...]
        var negative = false
        if let first = digits.first, first == UInt8(ascii: "+") || first == UInt8(ascii: "-") {
            negative = first == UInt8(ascii: "-")
            digits = digits.dropFirst()
        }
        guard let first = digits.first, let last = digits.last, first != UInt8(ascii: "_"), last != UInt8(ascii: "_") else { return nil }
        var value = 0
        var previousUnderscore = false
        for c in digits {
            if c == UInt8(ascii: "_") {
                guard !previousUnderscore else { return nil }
                previousUnderscore = true
                continue
            }
            guard c >= UInt8(ascii: "0"), c <= UInt8(ascii: "9") else { return nil }
            previousUnderscore = false
            value = value * 10 + Int(c - UInt8(ascii: "0"))
        }
        return negative ? -value : value
    }
}
