/// GIF decoded by hand to the pixels of `PIL.Image.open(p).convert("RGB")`: the first frame, as
/// Pillow's GifImagePlugin composes it (the format is a header, palettes and LZW data):
/// - the image is the logical screen, grown to hold the first frame when it reaches past it;
///   pixels outside the frame are the frame's transparent index when its graphic control
///   extension sets one, else index 0;
/// - colours come from the local palette, else the global one; a palette that is just the grey
///   ramp 0, 1, 2, … (or none) makes Pillow read the indices as grey levels; an index past the
///   palette's entries is black;
/// - LZW as Pillow's GifDecode.c runs it: codes widen to 12 bits, a full table stops growing,
///   a clear code resets it, the data sub-blocks are read as one stream; interlaced rows in
///   the four passes. Data that ends before every pixel of the frame is set is refused as
///   truncated ("image file is truncated"), a code past the table as corrupt.
/// Later frames and transparency itself are ignored, as `convert("RGB")` of the first frame does.
enum GIFDecoder {
    static func decode(_ bytes: [UInt8], name: String, maxPixels: Int) throws(ImageError) -> RGBImage {
        func truncated(_ reason: String) -> ImageError { .truncated(path: name, format: .gif, reason: reason) }
        func corrupt(_ reason: String) -> ImageError { .corrupt(path: name, format: .gif, reason: reason) }
        func u16(_ at: Int) -> Int { Int(bytes[at]) | Int(bytes[at + 1]) << 8 }

        guard bytes.count >= 13 else { throw truncated("the header is cut short") }
        var screenWidth = u16(6), screenHeight = u16(8)
        var position = 13
        /// Pillow's `_is_palette_needed`: false for the identity grey ramp.
        func palette(entries: Int) throws(ImageError) -> [UInt8]? {
            guard bytes.count >= position + 3 * entries else { throw truncated("a palette is cut short") }
            let colours = Array(bytes[position..<(position + 3 * entries)])
            position += 3 * entries
            let isRamp = (0..<entries).allSatisfy { i in
                colours[3 * i] == UInt8(truncatingIfNeeded: i) && colours[3 * i + 1] == colours[3 * i] && colours[3 * i + 2] == colours[3 * i] && i < 256
            }
            return isRamp ? nil : colours
        }
        let globalFlags = bytes[10]
        let globalPalette = globalFlags & 0x80 != 0 ? try palette(entries: 2 << Int(globalFlags & 7)) : nil

        /// The data of the sub-blocks starting at `position`, to the terminator.
        func skipSubBlocks() throws(ImageError) {
            while true {
                guard position < bytes.count else { throw truncated("an extension is cut short") }
                let size = Int(bytes[position])
                position += 1 + size
                if size == 0 { return }
            }
        }

        // Extensions up to the first image: only a graphic control extension's transparency counts.
        var transparency: Int?
        var frame: (x: Int, y: Int, width: Int, height: Int, interlaced: Bool, palette: [UInt8]?)?
        while frame == nil {
            guard position < bytes.count else { throw truncated("no image in the file") }
            let introducer = bytes[position]
            position += 1
            switch introducer {
            case 0x21:
                guard position + 1 < bytes.count else { throw truncated("an extension is cut short") }
                let label = bytes[position]
                position += 1
                // A later control extension without the flag leaves an earlier index set (Pillow).
                if label == 0xF9, Int(bytes[position]) >= 4, position + 4 < bytes.count, bytes[position + 1] & 1 != 0 {
                    transparency = Int(bytes[position + 4])
                }
                try skipSubBlocks()
            case 0x2C:
                guard bytes.count >= position + 9 else { throw truncated("the image descriptor is cut short") }
                let flags = bytes[position + 8]
                let x = u16(position), y = u16(position + 2), width = u16(position + 4), height = u16(position + 6)
                position += 9
                let local = flags & 0x80 != 0 ? try palette(entries: 2 << Int(flags & 7)) : nil
                // Pillow: a local palette that is the grey ramp means greyscale, not the global one.
                let colours = flags & 0x80 != 0 ? local : globalPalette
                frame = (x, y, width, height, flags & 0x40 != 0, colours)
            case 0x3B:
                throw corrupt("the file ends without an image")
            default:
                throw corrupt("unexpected block 0x\(String(introducer, radix: 16)) before the first image")
            }
        }
        guard let frame else { throw corrupt("no image") }
        guard frame.width > 0, frame.height > 0 else { throw corrupt("first frame of \(frame.width)×\(frame.height) pixels") }
        screenWidth = max(screenWidth, frame.x + frame.width)
        screenHeight = max(screenHeight, frame.y + frame.height)
        guard screenWidth > 0, screenHeight > 0 else { throw corrupt("image of \(screenWidth)×\(screenHeight) pixels") }
        guard screenWidth * screenHeight <= maxPixels else {
            throw ImageError.tooLarge(path: name, format: .gif, width: screenWidth, height: screenHeight, limit: maxPixels)
        }
        guard position < bytes.count else { throw truncated("the image data is missing") }
        let codeSize = Int(bytes[position])
        position += 1
        guard codeSize <= 12 else { throw corrupt("LZW code size \(codeSize)") }

        var indices = [UInt8](repeating: UInt8(transparency ?? 0), count: screenWidth * screenHeight)
        try decodeLZW(bytes, from: position, minimumCodeSize: codeSize, frameWidth: frame.width, frameHeight: frame.height,
                      interlaced: frame.interlaced, name: name) { x, y, value in
            indices[(frame.y + y) * screenWidth + frame.x + x] = value
        }
        let colours = frame.palette
        return RGBImage(width: screenWidth, height: screenHeight) { out in
            for (i, index) in indices.enumerated() {
                let v = Int(index)
                if let colours {
                    let inside = 3 * v + 3 <= colours.count
                    out[3 * i] = inside ? colours[3 * v] : 0
                    out[3 * i + 1] = inside ? colours[3 * v + 1] : 0
                    out[3 * i + 2] = inside ? colours[3 * v + 2] : 0
                } else {
                    out[3 * i] = index; out[3 * i + 1] = index; out[3 * i + 2] = index
                }
            }
        }
    }

    /// Runs the LZW data of a frame from `start` (the first sub-block's size byte), calling `set`
    /// for every pixel (frame coordinates) until the frame is full.
    static func decodeLZW(_ bytes: [UInt8], from start: Int, minimumCodeSize: Int, frameWidth: Int, frameHeight: Int,
                          interlaced: Bool, name: String, set: (Int, Int, UInt8) -> Void) throws(ImageError) {
        func truncated() -> ImageError {
            .truncated(path: name, format: .gif, reason: "the image data ends before the frame's \(frameWidth * frameHeight) pixels")
        }
        let clear = 1 << minimumCodeSize, end = clear + 1
        var prefix = [Int](repeating: 0, count: 4096), suffix = [UInt8](repeating: 0, count: 4096)
        var stack = [UInt8]()
        stack.reserveCapacity(4096)
        var next = clear + 2, codeSize = minimumCodeSize + 1
        var lastCode = -1, lastData: UInt8 = 0
        var firstAfterClear = true

        // Bit reader over the sub-blocks, which Pillow reads as one stream (a zero size is skipped).
        var position = start, blockLeft = 0
        var bitBuffer = 0, bitCount = 0
        func nextCode() throws(ImageError) -> Int {
            while bitCount < codeSize {
                if blockLeft > 0 {
                    guard position < bytes.count else { throw truncated() }
                    bitBuffer |= Int(bytes[position]) << bitCount
                    position += 1
                    blockLeft -= 1
                    bitCount += 8
                } else {
                    // A sub-block is only read when all of it is present, as Pillow waits for it.
                    guard position < bytes.count, bytes.count - position >= Int(bytes[position]) + 1 else { throw truncated() }
                    blockLeft = Int(bytes[position])
                    position += 1
                }
            }
            let code = bitBuffer & ((1 << codeSize) - 1)
            bitBuffer >>= codeSize
            bitCount -= codeSize
            return code
        }

        // Output position, with Pillow's interlace passes (rows 0, 8, …; 4, 12, …; 2, 6, …; 1, 3, …).
        var x = 0, y = 0, step = interlaced ? 8 : 1, pass = interlaced ? 1 : 0
        func emit(_ value: UInt8) -> Bool {
            set(x, y, value)
            x += 1
            guard x >= frameWidth else { return false }
            x = 0
            y += step
            while y >= frameHeight {
                switch pass {
                case 1: y = 4; pass = 2
                case 2: step = 4; y = 2; pass = 3
                case 3: step = 2; y = 1; pass = 0
                default: return true  // the frame is full
                }
            }
            return false
        }

        while true {
            let code = try nextCode()
            if code == clear {
                next = clear + 2
                codeSize = minimumCodeSize + 1
                firstAfterClear = true
                continue
            }
            if code == end { throw truncated() }
            stack.removeAll(keepingCapacity: true)
            if firstAfterClear {
                guard code < clear else { throw ImageError.corrupt(path: name, format: .gif, reason: "LZW code \(code) right after a clear") }
                lastCode = code
                lastData = UInt8(code)
                firstAfterClear = false
                stack.append(lastData)
            } else {
                guard code <= next else { throw ImageError.corrupt(path: name, format: .gif, reason: "LZW code \(code) past the table (\(next))") }
                var c = code
                var tail: UInt8?
                if code == next {
                    tail = lastData
                    c = lastCode
                }
                while c >= clear {
                    guard c < 4096, stack.count < 4096 else { throw ImageError.corrupt(path: name, format: .gif, reason: "LZW string too long") }
                    stack.append(suffix[c])
                    c = prefix[c]
                }
                lastData = UInt8(c)
                stack.append(lastData)
                stack.reverse()
                if let tail { stack.append(tail) }
                if next < 4096 {
                    suffix[next] = lastData
                    prefix[next] = lastCode
                    if next == (1 << codeSize) - 1 && codeSize < 12 { codeSize += 1 }
                    next += 1
                }
                lastCode = code
            }
            for value in stack where emit(value) { return }
        }
    }
}
