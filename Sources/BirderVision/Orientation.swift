/// EXIF orientation (tag 0x0112): how the stored pixels must be turned to look upright.
public enum ImageOrientation: Int, Sendable, Equatable, CaseIterable {
    case up = 1, upMirrored = 2, down = 3, downMirrored = 4
    case leftMirrored = 5, right = 6, rightMirrored = 7, left = 8
}

extension RGBImage {
    /// The image turned upright, exactly as `PIL.ImageOps.exif_transpose` does it
    /// (2 FLIP_LEFT_RIGHT, 3 ROTATE_180, 4 FLIP_TOP_BOTTOM, 5 TRANSPOSE, 6 ROTATE_270,
    /// 7 TRANSVERSE, 8 ROTATE_90).
    public func oriented(_ orientation: ImageOrientation) -> RGBImage {
        let w = width, h = height
        // Source coordinates of the output pixel (x, y), and the output size.
        let swaps: Bool
        let source: (Int, Int) -> (Int, Int)
        switch orientation {
        case .up: return self
        case .upMirrored: swaps = false; source = { x, y in (w - 1 - x, y) }
        case .down: swaps = false; source = { x, y in (w - 1 - x, h - 1 - y) }
        case .downMirrored: swaps = false; source = { x, y in (x, h - 1 - y) }
        case .leftMirrored: swaps = true; source = { x, y in (y, x) }
        case .right: swaps = true; source = { x, y in (y, h - 1 - x) }
        case .rightMirrored: swaps = true; source = { x, y in (w - 1 - y, h - 1 - x) }
        case .left: swaps = true; source = { x, y in (w - 1 - y, x) }
        }
        let outW = swaps ? h : w, outH = swaps ? w : h
        return pixels.withUnsafeBufferPointer { src in
            RGBImage(width: outW, height: outH) { dst in
                for y in 0..<outH {
                    for x in 0..<outW {
                        let (sx, sy) = source(x, y)
                        let s = (sy * w + sx) * 3, d = (y * outW + x) * 3
                        dst[d] = src[s]; dst[d + 1] = src[s + 1]; dst[d + 2] = src[s + 2]
                    }
                }
            }
        }
    }
}

/// Reads the orientation the way PIL's `Image.getexif()` finds it: the EXIF Orientation tag of
/// IFD0 (JPEG APP1 "Exif", PNG eXIf or ImageMagick's "Raw profile type exif" text, WebP EXIF
/// chunk); when EXIF has none, the first `tiff:Orientation` in the XMP packet.
/// Compressed PNG text chunks (zTXt, compressed iTXt) are not inflated, so XMP there is not seen.
enum ImageMetadata {
    static func orientation(_ bytes: [UInt8], format: ImageFormat) -> ImageOrientation? {
        let (exif, xmp): ([UInt8]?, [UInt8]?)
        switch format {
        case .jpeg: (exif, xmp) = jpegSegments(bytes)
        case .png: (exif, xmp) = pngChunks(bytes)
        case .webp: (exif, xmp) = webpChunks(bytes)
        case .bmp, .tiff, .netpbm, .gif: return nil  // not read for these formats
        }
        let value = exif.flatMap(exifOrientation) ?? xmp.flatMap(xmpOrientation)
        return value.flatMap { ImageOrientation(rawValue: $0) }
    }

    private static func be16(_ b: [UInt8], _ i: Int) -> Int { Int(b[i]) << 8 | Int(b[i + 1]) }
    private static func be32(_ b: [UInt8], _ i: Int) -> Int {
        Int(b[i]) << 24 | Int(b[i + 1]) << 16 | Int(b[i + 2]) << 8 | Int(b[i + 3])
    }
    private static func le32(_ b: [UInt8], _ i: Int) -> Int {
        Int(b[i + 3]) << 24 | Int(b[i + 2]) << 16 | Int(b[i + 1]) << 8 | Int(b[i])
    }
    private static func hasPrefix(_ b: [UInt8], _ range: Range<Int>, _ prefix: String) -> Bool {
        let p = Array(prefix.utf8)
        return range.count >= p.count && b[range.lowerBound..<(range.lowerBound + p.count)].elementsEqual(p)
    }

    /// JPEG: APP1 segments before the first scan. Like PIL, later "Exif" segments are appended
    /// to the first (without their "Exif\0\0"), and the last XMP packet wins.
    static func jpegSegments(_ b: [UInt8]) -> ([UInt8]?, [UInt8]?) {
        var exif: [UInt8]?, xmp: [UInt8]?
        var i = 2
        while i + 4 <= b.count {
            guard b[i] == 0xFF else { i += 1; continue }
            let marker = b[i + 1]
            if marker == 0xFF { i += 1; continue }
            if marker == 0xD8 || marker == 0x01 || (0xD0...0xD7).contains(marker) { i += 2; continue }
            if marker == 0xDA || marker == 0xD9 { break }
            let length = be16(b, i + 2)
            guard length >= 2, i + 2 + length <= b.count else { break }
            let body = (i + 4)..<(i + 2 + length)
            if marker == 0xE1 {
                if hasPrefix(b, body, "Exif\u{0}\u{0}") {
                    if exif == nil { exif = Array(b[body]) } else { exif! += b[(body.lowerBound + 6)..<body.upperBound] }
                } else if hasPrefix(b, body, "http://ns.adobe.com/xap/1.0/\u{0}") {
                    xmp = Array(b[(body.lowerBound + 29)..<body.upperBound])
                }
            }
            i += 2 + length
        }
        return (exif, xmp)
    }

    /// PNG: eXIf, "Raw profile type exif" (tEXt, hex) and XMP in an uncompressed iTXt.
    static func pngChunks(_ b: [UInt8]) -> ([UInt8]?, [UInt8]?) {
        var exif: [UInt8]?, rawProfile: [UInt8]?, xmp: [UInt8]?
        var i = 8
        while i + 12 <= b.count {
            let length = be32(b, i)
            guard length <= b.count - i - 12 else { break }
            let type = String(decoding: b[(i + 4)..<(i + 8)], as: UTF8.self)
            let body = (i + 8)..<(i + 8 + length)
            switch type {
            case "eXIf":
                exif = Array(b[body])
            case "tEXt":
                if hasPrefix(b, body, "Raw profile type exif\u{0}") {
                    rawProfile = hexProfile(Array(b[(body.lowerBound + 22)..<body.upperBound]))
                }
            case "iTXt":
                let key = "XML:com.adobe.xmp\u{0}"
                // keyword, NUL, compression flag, method, language NUL, translated keyword NUL, text
                if hasPrefix(b, body, key), body.count > key.utf8.count + 2, b[body.lowerBound + key.utf8.count] == 0 {
                    var j = body.lowerBound + key.utf8.count + 2
                    for _ in 0..<2 {
                        while j < body.upperBound && b[j] != 0 { j += 1 }
                        j += 1
                    }
                    if j <= body.upperBound { xmp = Array(b[j..<body.upperBound]) }
                }
            case "IEND":
                return (exif ?? rawProfile, xmp)
            default:
                break
            }
            i += 12 + length
        }
        return (exif ?? rawProfile, xmp)
    }

    /// ImageMagick's "\nexif\n  <length>\n<hex...>": PIL joins the lines from the fourth on.
    private static func hexProfile(_ text: [UInt8]) -> [UInt8]? {
        let lines = text.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false)
        guard lines.count > 3 else { return nil }
        var out: [UInt8] = []
        var high: UInt8?
        for line in lines[3...] {
            for c in line {
                let v: UInt8
                switch c {
                case UInt8(ascii: "0")...UInt8(ascii: "9"): v = c - UInt8(ascii: "0")
                case UInt8(ascii: "a")...UInt8(ascii: "f"): v = c - UInt8(ascii: "a") + 10
                case UInt8(ascii: "A")...UInt8(ascii: "F"): v = c - UInt8(ascii: "A") + 10
                default: return nil
                }
                if let h = high { out.append(h << 4 | v); high = nil } else { high = v }
            }
        }
        return out
    }

    /// WebP: the RIFF chunks "EXIF" and "XMP ".
    static func webpChunks(_ b: [UInt8]) -> ([UInt8]?, [UInt8]?) {
        var exif: [UInt8]?, xmp: [UInt8]?
        var i = 12
        while i + 8 <= b.count {
            let length = le32(b, i + 4)
            guard length <= b.count - i - 8 else { break }
            let body = (i + 8)..<(i + 8 + length)
            if hasPrefix(b, i..<(i + 4), "EXIF") { exif = Array(b[body]) }
            if hasPrefix(b, i..<(i + 4), "XMP ") { xmp = Array(b[body]) }
            i += 8 + length + (length & 1)
        }
        return (exif, xmp)
    }

    /// The Orientation entry of IFD0 in a TIFF-structured EXIF block (after up to two "Exif\0\0").
    static func exifOrientation(_ data: [UInt8]) -> Int? {
        var start = 0
        for _ in 0..<2 where hasPrefix(data, start..<data.count, "Exif\u{0}\u{0}") { start += 6 }
        let b = Array(data[start...])
        guard b.count >= 8 else { return nil }
        let little: Bool
        if b[0] == 0x49 && b[1] == 0x49 { little = true } else if b[0] == 0x4D && b[1] == 0x4D { little = false } else { return nil }
        func u16(_ i: Int) -> Int? {
            guard i >= 0, i + 2 <= b.count else { return nil }
            return little ? Int(b[i]) | Int(b[i + 1]) << 8 : Int(b[i]) << 8 | Int(b[i + 1])
        }
        func u32(_ i: Int) -> Int? {
            guard i >= 0, i + 4 <= b.count else { return nil }
            return little ? le32(b, i) : be32(b, i)
        }
        guard u16(2) == 42, let ifd = u32(4), let count = u16(ifd) else { return nil }
        for n in 0..<count {
            let entry = ifd + 2 + 12 * n
            guard let tag = u16(entry), let type = u16(entry + 2), let values = u32(entry + 4) else { return nil }
            guard tag == 0x0112 else { continue }
            // 0: present but unusable (PIL then gets no orientation and does not look at XMP).
            guard values == 1, entry + 12 <= b.count else { return 0 }
            switch type {
            case 1, 7: return Int(b[entry + 8])          // BYTE, UNDEFINED
            case 3: return u16(entry + 8)                // SHORT
            case 8: return u16(entry + 8).map { Int(Int16(truncatingIfNeeded: $0)) }  // SSHORT
            case 4: return u32(entry + 8)                // LONG
            case 9: return u32(entry + 8).map { Int(Int32(truncatingIfNeeded: $0)) }  // SLONG
            default: return 0
            }
        }
        return nil
    }

    /// PIL's `re.search(r'tiff:Orientation(="|>)([0-9])', xmp)`.
    static func xmpOrientation(_ xmp: [UInt8]) -> Int? {
        let key = Array("tiff:Orientation".utf8)
        var i = 0
        while i + key.count + 2 <= xmp.count {
            if xmp[i..<(i + key.count)].elementsEqual(key) {
                var j = i + key.count
                if xmp[j] == UInt8(ascii: "=") && xmp[j + 1] == UInt8(ascii: "\"") {
                    j += 2
                } else if xmp[j] == UInt8(ascii: ">") {
                    j += 1
                } else {
                    i += 1
                    continue
                }
                if j < xmp.count, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(xmp[j]) {
                    return Int(xmp[j] - UInt8(ascii: "0"))
                }
            }
            i += 1
        }
        return nil
    }
}
