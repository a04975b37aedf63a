/// Windows/OS2 bitmaps decoded by hand (the format is a header and raw rows), to the pixels of
/// `PIL.Image.open(p).convert("RGB")` (Pillow's BmpImagePlugin, followed rule by rule):
/// - headers of 12 (OS/2 v1, 16-bit sizes, 3-byte palette entries), 40, 52, 56, 64, 108 and 124
///   bytes; rows bottom-up, or top-down when the height is negative;
/// - 1, 4 and 8 bits through the palette (indices past the file's entries are black, or their own
///   grey level when the palette is a grey ramp, which Pillow reads as greyscale), 16 bits as 5-5-5 or 5-6-5 (`v * 255 / 31`, `/ 63`), 24 bits BGR, 32 bits BGRX,
///   and the bit-field layouts Pillow accepts; alpha is dropped, as `convert("RGB")` drops it;
/// - a pixel-data offset pointing right after the header skips the palette, as Pillow's does.
/// - RLE8 and RLE4 as Pillow's BmpRleDecoder runs them: runs clipped at the row's end, absolute runs
///   word-aligned, end of line, delta (skipped pixels are index 0), end of bitmap; data that ends
///   before every pixel is set is refused, as Pillow refuses it ("not enough image data").
/// JPEG/PNG-in-BMP are refused as unsupported, and rows that end early as truncated (Pillow:
/// "image file is truncated").
/// Every field is checked before use; nothing is allocated before the size passes `maxPixels`.
enum BMPDecoder {
    static func decode(_ bytes: [UInt8], name: String, maxPixels: Int) throws(ImageError) -> RGBImage {
        func corrupt(_ reason: String) -> ImageError { .corrupt(path: name, format: .bmp, reason: reason) }
        func unsupported(_ reason: String) -> ImageError { .unsupported(path: name, format: .bmp, reason: reason) }
        func u16(_ at: Int) -> Int { Int(bytes[at]) | Int(bytes[at + 1]) << 8 }
        func u32(_ at: Int) -> Int { u16(at) | u16(at + 2) << 16 }

        guard bytes.count >= 18 else { throw ImageError.truncated(path: name, format: .bmp, reason: "the header is cut short") }
        var dataOffset = u32(10)
        let headerSize = u32(14)
        guard bytes.count >= 14 + headerSize, headerSize >= 12 else {
            throw headerSize < 12 ? corrupt("header of \(headerSize) bytes")
                : ImageError.truncated(path: name, format: .bmp, reason: "the header is cut short")
        }
        let h = 18  // header fields after its size
        var width: Int, height: Int, bits: Int, compression = 0, colors = 0, paletteEntrySize = 4
        var topDown = false
        var masks: [Int]?
        var position = 14 + headerSize
        switch headerSize {
        case 12:
            width = u16(h); height = u16(h + 2); bits = u16(h + 6)
            paletteEntrySize = 3
        case 40, 52, 56, 64, 108, 124:
            width = u32(h)
            topDown = bytes[h + 7] == 0xFF
            height = topDown ? (1 << 32) - u32(h + 4) : u32(h + 4)
            bits = u16(h + 10)
            compression = u32(h + 12)
            colors = u32(h + 28)
            if compression == 3 {
                if headerSize - 4 >= 48 {
                    masks = [u32(h + 36), u32(h + 40), u32(h + 44), headerSize - 4 >= 52 ? u32(h + 48) : 0]
                } else {
                    // A 40-byte header keeps three masks after it (the fourth quad is reserved).
                    guard bytes.count >= position + 12 else {
                        throw ImageError.truncated(path: name, format: .bmp, reason: "the bit-field masks are cut short")
                    }
                    masks = [u32(position), u32(position + 4), u32(position + 8), 0]
                    position += 12
                }
            }
        default:
            throw unsupported("header of \(headerSize) bytes")
        }
        guard width > 0, height > 0 else { throw corrupt("image of \(width)×\(height) pixels") }
        guard width <= Int(Int32.max), height <= Int(Int32.max) else { throw corrupt("image of \(width)×\(height) pixels") }
        let (pixels, overflow) = width.multipliedReportingOverflow(by: height)
        guard !overflow, pixels <= maxPixels else {
            throw ImageError.tooLarge(path: name, format: .bmp, width: width, height: height, limit: maxPixels)
        }
        guard [1, 4, 8, 16, 24, 32].contains(bits) else { throw unsupported("\(bits) bits per pixel") }
        if colors == 0 { colors = 1 << min(bits, 30) }
        if dataOffset == 14 + headerSize && bits <= 8 { dataOffset += paletteEntrySize * colors }

        /// The 256-entry RGB palette of a 1-, 4- or 8-bit image, as Pillow reads it.
        func palette() throws(ImageError) -> [UInt8] {
            guard colors > 0, colors <= 65536 else { throw unsupported("palette of \(colors) colours") }
            let paletteBytes = paletteEntrySize * colors
            guard bytes.count >= position + paletteBytes else {
                throw ImageError.truncated(path: name, format: .bmp, reason: "the palette is cut short")
            }
            var palette = [UInt8](repeating: 0, count: 256 * 3)
            for i in 0..<min(colors, 256) {
                let at = position + i * paletteEntrySize
                palette[i * 3] = bytes[at + 2]; palette[i * 3 + 1] = bytes[at + 1]; palette[i * 3 + 2] = bytes[at]
            }
            // Pillow reads a grey ramp palette (black and white for two colours) as greyscale,
            // where every index is its own grey level; otherwise indices past the file's
            // entries are black.
            let ramp = colors == 2 ? [0, 255] : Array(0..<colors)
            let isGrey = colors <= 256 && ramp.enumerated().allSatisfy { i, v in
                palette[i * 3] == UInt8(v) && palette[i * 3 + 1] == UInt8(v) && palette[i * 3 + 2] == UInt8(v)
            }
            if isGrey && colors != 2 { palette = (0..<256).flatMap { [UInt8($0), UInt8($0), UInt8($0)] } }
            return palette
        }

        // How a pixel becomes RGB.
        enum Layout { case palette([UInt8]), bytes(r: Int, g: Int, b: Int), rgb555, rgb565 }
        let layout: Layout
        switch compression {
        case 0:
            switch bits {
            case 16: layout = .rgb555
            case 24, 32: layout = .bytes(r: 2, g: 1, b: 0)
            default:
                layout = .palette(try palette())
            }
        case 3:
            let m = masks ?? [0, 0, 0, 0]
            // Byte index of a one-byte mask (0xFF << 8k → k).
            func byteOf(_ mask: Int) -> Int? { (0..<4).first { 0xFF << (8 * $0) == mask } }
            switch bits {
            case 32 where m == [0, 0, 0, 0]:
                layout = .bytes(r: 2, g: 1, b: 0)
            case 32:
                let supported: [[Int]] = [[0xFF0000, 0xFF00, 0xFF, 0], [0xFF00_0000, 0xFF0000, 0xFF00, 0], [0xFF00_0000, 0xFF00, 0xFF, 0],
                                          [0xFF00_0000, 0xFF0000, 0xFF00, 0xFF], [0xFF, 0xFF00, 0xFF0000, 0xFF00_0000],
                                          [0xFF0000, 0xFF00, 0xFF, 0xFF00_0000], [0xFF00_0000, 0xFF00, 0xFF, 0xFF0000]]
                guard supported.contains(m), let r = byteOf(m[0]), let g = byteOf(m[1]), let b = byteOf(m[2]) else {
                    throw unsupported("bit-field layout \(m.map { String($0, radix: 16) })")
                }
                layout = .bytes(r: r, g: g, b: b)
            case 24 where Array(m.prefix(3)) == [0xFF0000, 0xFF00, 0xFF]:
                layout = .bytes(r: 2, g: 1, b: 0)
            case 16 where Array(m.prefix(3)) == [0xF800, 0x7E0, 0x1F]:
                layout = .rgb565
            case 16 where Array(m.prefix(3)) == [0x7C00, 0x3E0, 0x1F]:
                layout = .rgb555
            default:
                throw unsupported("bit-field layout \(m.prefix(3).map { String($0, radix: 16) }) at \(bits) bits")
            }
        case 1, 2:
            guard bits <= 8 else { throw unsupported("RLE compression at \(bits) bits per pixel") }
            let indices = try runLengthIndices(bytes, from: dataOffset, width: width, height: height, nibbles: compression == 2, name: name)
            let palette = try palette()
            return RGBImage(width: width, height: height) { out in
                for y in 0..<height {
                    let row = (topDown ? y : height - 1 - y) * width
                    for x in 0..<width {
                        let index = Int(indices[row + x]), o = (y * width + x) * 3
                        out[o] = palette[index * 3]; out[o + 1] = palette[index * 3 + 1]; out[o + 2] = palette[index * 3 + 2]
                    }
                }
            }
        default:
            throw unsupported("compression \(compression)")
        }

        let (rowBits, rowOverflow) = width.multipliedReportingOverflow(by: bits)
        guard !rowOverflow else { throw corrupt("row too long") }
        let stride = ((rowBits + 31) >> 3) & ~3
        let rowBytes = (rowBits + 7) >> 3
        guard dataOffset <= bytes.count else {
            throw ImageError.truncated(path: name, format: .bmp, reason: "the pixel data starts past the end of the file")
        }
        let needed = stride * (height - 1) + rowBytes
        guard bytes.count - dataOffset >= needed else {
            throw ImageError.truncated(path: name, format: .bmp,
                                       reason: "\(bytes.count - dataOffset) bytes of pixel data for \(needed)")
        }

        return RGBImage(width: width, height: height) { out in
            for y in 0..<height {
                let source = dataOffset + (topDown ? y : height - 1 - y) * stride
                var o = y * width * 3
                for x in 0..<width {
                    switch layout {
                    case .palette(let palette):
                        let bit = x * bits
                        let index = (Int(bytes[source + bit >> 3]) >> (8 - bits - (bit & 7))) & ((1 << bits) - 1)
                        out[o] = palette[index * 3]; out[o + 1] = palette[index * 3 + 1]; out[o + 2] = palette[index * 3 + 2]
                    case let .bytes(r, g, b):
                        let p = source + x * (bits / 8)
                        out[o] = bytes[p + r]; out[o + 1] = bytes[p + g]; out[o + 2] = bytes[p + b]
                    case .rgb555:
                        let v = Int(bytes[source + 2 * x]) | Int(bytes[source + 2 * x + 1]) << 8
                        out[o] = UInt8((v >> 10 & 31) * 255 / 31); out[o + 1] = UInt8((v >> 5 & 31) * 255 / 31)
                        out[o + 2] = UInt8((v & 31) * 255 / 31)
                    case .rgb565:
                        let v = Int(bytes[source + 2 * x]) | Int(bytes[source + 2 * x + 1]) << 8
                        out[o] = UInt8((v >> 11 & 31) * 255 / 31); out[o + 1] = UInt8((v >> 5 & 63) * 255 / 63)
                        out[o + 2] = UInt8((v & 31) * 255 / 31)
                    }
                    o += 3
                }
            }
        }
    }

    /// The palette index of every pixel, in stored row order, from RLE8 (`nibbles` false) or RLE4
    /// data starting at `start` (Pillow's BmpRleDecoder, step for step).
    static func runLengthIndices(_ bytes: [UInt8], from start: Int, width: Int, height: Int, nibbles: Bool,
                                 name: String) throws(ImageError) -> [UInt8] {
        let total = width * height
        var data = [UInt8]()
        data.reserveCapacity(total)
        var position = start, x = 0
        while data.count < total {
            guard position + 1 < bytes.count else { break }
            let count = Int(bytes[position]), value = bytes[position + 1]
            position += 2
            if count > 0 {
                // Encoded run, clipped at the row's end.
                let run = min(count, max(0, width - x))
                for i in 0..<run { data.append(nibbles ? (i % 2 == 0 ? value >> 4 : value & 0x0F) : value) }
                x += run
            } else if value == 0 {
                // End of line.
                while data.count % width != 0 { data.append(0) }
                x = 0
            } else if value == 1 {
                break  // end of bitmap
            } else if value == 2 {
                guard position + 1 < bytes.count else { break }
                let right = Int(bytes[position]), up = Int(bytes[position + 1])
                position += 2
                data += repeatElement(0, count: min(total - data.count, right + up * width))
                x = data.count % width
            } else {
                // Absolute run of `value` pixels, padded to a 16-bit word.
                let wanted = min(total - data.count, Int(value))
                let byteCount = nibbles ? (wanted + 1) / 2 : wanted
                let available = min(byteCount, max(0, bytes.count - position))
                for i in 0..<available {
                    let byte = bytes[position + i]
                    if nibbles {
                        data.append(byte >> 4)
                        if i * 2 + 1 < wanted { data.append(byte & 0x0F) }
                    } else {
                        data.append(byte)
                    }
                }
                position += available
                if available < byteCount || data.count == total { break }
                x += Int(value)
                if position % 2 != 0 { position += 1 }
            }
        }
        guard data.count >= total else {
            throw ImageError.truncated(path: name, format: .bmp, reason: "the run-length data sets \(data.count) of \(total) pixels")
        }
        return Array(data.prefix(total))
    }
}
