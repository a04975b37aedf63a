import BirderCore
import CImageCodecs
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A width and a height in pixels.
public struct PixelSize: Sendable, Equatable, Hashable {
    public var width: Int
    public var height: Int
    public init(width: Int, height: Int) { self.width = width; self.height = height }
}

/// How `ImageDecoder` decodes. The defaults reproduce `PIL.Image.open(p).convert("RGB")`.
public struct ImageDecodeOptions: Sendable, Equatable {
    /// Rotate/flip by the EXIF orientation (as `PIL.ImageOps.exif_transpose`). Off by default:
    /// neither PIL's `open` nor Birder applies it, so turning it on changes what the model sees.
    public var applyEXIFOrientation: Bool = false
    /// Images with more pixels are refused before anything is allocated for them. PIL's
    /// `MAX_IMAGE_PIXELS` (PIL itself only warns up to twice this and raises above).
    public var maxPixels: Int = 178_956_970
    /// Files with more bytes are refused without being read.
    public var maxFileBytes: Int = 1 << 30
    /// JPEGs with more scans are refused (progressive files with thousands of tiny scans cost
    /// minutes of CPU; real files have at most a few dozen). 0: no limit.
    public var maxJPEGScans: Int = 1000
    /// Off (nil) by default. When set, a JPEG is decoded at 1/2, 1/4 or 1/8 scale by libjpeg's DCT
    /// scaling: the smallest scale that still gives at least this many pixels on both sides.
    /// Much faster for huge photos, but the pixels differ from PIL's, so embeddings change a little.
    public var jpegDCTScalingMinimum: PixelSize? = nil
    /// The formats to decode; others are refused as unsupported, naming `formatsReader` (nil: every
    /// format this decoder reads). Birder's `tv` image loader reads fewer than Pillow.
    public var formats: Set<ImageFormat>? = nil
    /// Who reads only `formats`, for the refusal, e.g. "torchvision.io.decode_image".
    public var formatsReader = ""

    public init(applyEXIFOrientation: Bool = false, maxPixels: Int = 178_956_970) {
        self.applyEXIFOrientation = applyEXIFOrientation
        self.maxPixels = maxPixels
    }

}

/// Decodes JPEG, PNG, WebP, BMP, TIFF, PPM/PGM/PBM (binary and plain) and GIF (first frame) files to 8-bit RGB exactly as `PIL.Image.open(p).convert("RGB")`
/// (see SPEC.md and the C shims for the details), except 16-bit greyscale PNG, whose high byte is
/// kept where PIL clips to white. Thread-safe: call it from as many threads as you like.
public enum ImageDecoder {
    /// Decodes the file at `path`.
    public static func decode(path: String, options: ImageDecodeOptions = ImageDecodeOptions()) throws(ImageError) -> RGBImage {
        let bytes = try readFile(path, maxBytes: options.maxFileBytes)
        return try decode(bytes: bytes, name: path, options: options)
    }

    /// Decodes an image held in memory; `name` is used in errors.
    public static func decode(bytes: [UInt8], name: String, options: ImageDecodeOptions = ImageDecodeOptions()) throws(ImageError) -> RGBImage {
        if bytes.isEmpty { throw .empty(path: name) }
        guard let format = format(of: bytes) else {
            throw .unknownFormat(path: name, detected: otherFormatName(bytes))
        }
        if let formats = options.formats, !formats.contains(format) {
            throw .unsupported(path: name, format: format, reason: "\(options.formatsReader.isEmpty ? "the chosen loader" : options.formatsReader) does not read \(format.rawValue) files")
        }
        let result: Result<RGBImage, ImageError> = bytes.withUnsafeBufferPointer { buffer in
            let base = buffer.baseAddress!
            switch format {
            case .jpeg: return decodeJPEG(base, buffer.count, name: name, options: options)
            case .png: return decodePNG(base, buffer.count, name: name, options: options)
            case .webp: return decodeWebP(base, buffer.count, name: name, options: options)
            case .tiff: return decodeTIFF(base, buffer.count, name: name, options: options)
            case .netpbm: return Result { () throws(ImageError) in try NetpbmDecoder.decode(bytes, name: name, maxPixels: options.maxPixels) }
            case .bmp: return Result { () throws(ImageError) in try BMPDecoder.decode(bytes, name: name, maxPixels: options.maxPixels) }
            case .gif: return Result { () throws(ImageError) in try GIFDecoder.decode(bytes, name: name, maxPixels: options.maxPixels) }
            }
        }
        var image = try result.get()
        if options.applyEXIFOrientation, let orientation = ImageMetadata.orientation(bytes, format: format) {
            image = image.oriented(orientation)
        }
        return image
    }

    /// The stored width and height, read from the header alone (nothing is decoded or allocated
    /// for the pixels): lets a caller refuse an image before queueing it. Throws what `decode`
    /// would for an unknown format, a header that cannot be read, or more pixels than
    /// `options.maxPixels`.
    public static func pixelSize(of bytes: [UInt8], name: String, options: ImageDecodeOptions = ImageDecodeOptions()) throws(ImageError) -> PixelSize {
        if bytes.isEmpty { throw .empty(path: name) }
        guard let format = format(of: bytes) else {
            throw .unknownFormat(path: name, detected: otherFormatName(bytes))
        }
        let result: Result<PixelSize, ImageError> = bytes.withUnsafeBufferPointer { buffer in
            let base = buffer.baseAddress!
            var info = bv_info()
            let status: bv_status
            switch format {
            case .jpeg:
                var decoder: OpaquePointer?
                status = bv_jpeg_open(base, buffer.count, limit(options), 1, Int32(clamping: options.maxJPEGScans), &decoder, &info)
                bv_jpeg_close(decoder)
            case .png:
                var decoder: OpaquePointer?
                status = bv_png_open(base, buffer.count, limit(options), &decoder, &info)
                bv_png_close(decoder)
            case .webp:
                status = bv_webp_info(base, buffer.count, limit(options), &info)
            case .tiff:
                var decoder: OpaquePointer?
                status = bv_tiff_open(base, buffer.count, limit(options), &decoder, &info)
                bv_tiff_close(decoder)
            case .bmp, .netpbm, .gif:
                // Decoded by hand: the decoders refuse the size before allocating, and decoding
                // costs little more than reading the bytes already received.
                let decoded = Result { () throws(ImageError) in
                    switch format {
                    case .bmp: return try BMPDecoder.decode(bytes, name: name, maxPixels: options.maxPixels)
                    case .gif: return try GIFDecoder.decode(bytes, name: name, maxPixels: options.maxPixels)
                    default: return try NetpbmDecoder.decode(bytes, name: name, maxPixels: options.maxPixels)
                    }
                }
                return decoded.map { PixelSize(width: $0.width, height: $0.height) }
            }
            guard status == BV_OK else {
                return .failure(failure(status, info, format: format, name: name, limit: options.maxPixels))
            }
            return .success(PixelSize(width: Int(info.source_width), height: Int(info.source_height)))
        }
        return try result.get()
    }

    /// The format the bytes start with, by the same magic numbers PIL's plugins accept.
    public static func format(of bytes: [UInt8]) -> ImageFormat? {
        func starts(_ magic: [UInt8], at offset: Int = 0) -> Bool {
            bytes.count >= offset + magic.count && bytes[offset..<(offset + magic.count)].elementsEqual(magic)
        }
        if starts([0xFF, 0xD8, 0xFF]) { return .jpeg }
        if starts([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]) { return .png }
        if starts(Array("RIFF".utf8)), starts(Array("WEBP".utf8), at: 8),
           starts(Array("VP8 ".utf8), at: 12) || starts(Array("VP8L".utf8), at: 12) || starts(Array("VP8X".utf8), at: 12) {
            return .webp
        }
        if starts(Array("BM".utf8)) { return .bmp }
        if starts(Array("GIF87a".utf8)) || starts(Array("GIF89a".utf8)) { return .gif }
        // Classic TIFF in either byte order (BigTIFF is named, not decoded).
        if starts([0x49, 0x49, 0x2A, 0x00]) || starts([0x4D, 0x4D, 0x00, 0x2A]) { return .tiff }
        // Netpbm: "P1"…"P6" (plain or binary bitmap, greymap, pixmap) and whitespace.
        if bytes.count >= 3, bytes[0] == UInt8(ascii: "P"), (UInt8(ascii: "1")...UInt8(ascii: "6")).contains(bytes[1]),
           [0x20, 0x09, 0x0A, 0x0B, 0x0C, 0x0D].contains(bytes[2]) {
            return .netpbm
        }
        return nil
    }

    /// Names the formats PIL would open (by the magic numbers of its plugins' `_accept`), so that
    /// the refusal says what the file is. torchvision's folder loader picks .ppm, .pgm, .bmp and
    /// .tif files too, so those are the likeliest to reach this engine.
    static func otherFormatName(_ bytes: [UInt8]) -> String? {
        func starts(_ magic: String, at offset: Int = 0) -> Bool {
            let m = Array(magic.utf8)
            return bytes.count >= offset + m.count && bytes[offset..<(offset + m.count)].elementsEqual(m)
        }
        func starts(_ magic: [UInt8]) -> Bool { bytes.count >= magic.count && bytes[0..<magic.count].elementsEqual(magic) }
        if starts("GIF87a") || starts("GIF89a") { return "GIF" }
        if starts("BM") && bytes.count >= 26 { return "BMP" }
        // PIL's TIFF prefixes include the two byte orders written the "wrong" way round.
        if starts("II*\u{0}") || starts("MM\u{0}*") || starts("MM*\u{0}") || starts("II\u{0}*") { return "TIFF" }
        if starts("II+\u{0}") || starts("MM\u{0}+") { return "BigTIFF" }
        // Netpbm: "P", a kind, whitespace (PIL does not ask for the whitespace, but without it
        // this is more likely a text file than an image).
        if bytes.count >= 3, bytes[0] == UInt8(ascii: "P"), [0x20, 0x09, 0x0A, 0x0D].contains(bytes[2]) {
            switch bytes[1] {
            case UInt8(ascii: "1"), UInt8(ascii: "4"): return "PBM"
            case UInt8(ascii: "2"), UInt8(ascii: "5"): return "PGM"
            case UInt8(ascii: "3"), UInt8(ascii: "6"): return "PPM"
            case UInt8(ascii: "7"): return "PAM"
            case UInt8(ascii: "f"), UInt8(ascii: "F"): return "PFM"
            default: break
            }
        }
        if starts([0, 0, 1, 0]) { return "ICO" }
        if starts([0, 0, 2, 0]) { return "CUR" }
        if starts("8BPS") { return "PSD" }
        if starts("qoif") { return "QOI" }
        if starts("DDS ") { return "DDS" }
        if starts("icns") { return "ICNS" }
        if starts([0x01, 0xDA]) { return "SGI" }
        if bytes.count >= 2, bytes[0] == 0x0A, [0, 2, 3, 5].contains(bytes[1]) { return "PCX" }
        if starts([0xFF, 0x0A]) || starts([0, 0, 0, 12, 0x4A, 0x58, 0x4C, 0x20, 0x0D, 0x0A, 0x87, 0x0A]) { return "JPEG XL" }
        if starts([0xFF, 0x4F, 0xFF, 0x51]) { return "JPEG 2000" }
        if starts("ftypavif", at: 4) || starts("ftypavis", at: 4) { return "AVIF" }
        if starts("ftypheic", at: 4) || starts("ftypheix", at: 4) || starts("ftypmif1", at: 4) { return "HEIF" }
        if bytes.count >= 12, bytes[0..<12].elementsEqual([0, 0, 0, 12, 0x6A, 0x50, 0x20, 0x20, 0x0D, 0x0A, 0x87, 0x0A]) { return "JPEG 2000" }
        if starts("RIFF") && starts("WEBP", at: 8) { return "WebP (unknown chunk layout)" }
        return nil
    }

    // MARK: Codecs

    private static func failure(_ status: bv_status, _ info: bv_info, format: ImageFormat, name: String, limit: Int) -> ImageError {
        let reason = withUnsafeBytes(of: info.message) { raw in
            String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
        }
        switch status {
        case BV_TRUNCATED: return .truncated(path: name, format: format, reason: reason)
        case BV_TOO_LARGE:
            return .tooLarge(path: name, format: format, width: Int(info.source_width), height: Int(info.source_height), limit: limit)
        case BV_UNSUPPORTED: return .unsupported(path: name, format: format, reason: reason)
        case BV_NO_MEMORY: return .outOfMemory(path: name)
        default: return .corrupt(path: name, format: format, reason: reason)
        }
    }

    /// Allocates the output and lets `read` fill it; refuses sizes that do not fit the limit.
    private static func makeImage(_ info: bv_info, read: (UnsafeMutablePointer<UInt8>) -> bv_status) -> (RGBImage?, bv_status) {
        var status = BV_OK
        let image = RGBImage(width: Int(info.width), height: Int(info.height)) { buffer in
            status = read(buffer.baseAddress!)
            if status != BV_OK { buffer.initialize(repeating: 0) }  // never expose uninitialised memory
        }
        return status == BV_OK ? (image, status) : (nil, status)
    }

    private static func limit(_ options: ImageDecodeOptions) -> UInt64 { UInt64(max(0, options.maxPixels)) }

    private static func decodeJPEG(_ data: UnsafePointer<UInt8>, _ count: Int, name: String,
                                   options: ImageDecodeOptions) -> Result<RGBImage, ImageError> {
        var info = bv_info()
        var decoder: OpaquePointer?
        var denominator: Int32 = 1
        if let minimum = options.jpegDCTScalingMinimum {
            // Read the header once to learn the size, then choose the scale.
            var probe = bv_info()
            var handle: OpaquePointer?
            let status = bv_jpeg_open(data, count, limit(options), 1, Int32(clamping: options.maxJPEGScans), &handle, &probe)
            bv_jpeg_close(handle)
            if status != BV_OK { return .failure(failure(status, probe, format: .jpeg, name: name, limit: options.maxPixels)) }
            for d in [8, 4, 2] {
                // libjpeg's scaled size: ceil(size / d).
                let w = (Int(probe.source_width) + d - 1) / d, h = (Int(probe.source_height) + d - 1) / d
                if w >= minimum.width && h >= minimum.height { denominator = Int32(d); break }
            }
        }
        var status = bv_jpeg_open(data, count, limit(options), denominator, Int32(clamping: options.maxJPEGScans), &decoder, &info)
        defer { bv_jpeg_close(decoder) }
        guard status == BV_OK, let decoder else {
            return .failure(failure(status, info, format: .jpeg, name: name, limit: options.maxPixels))
        }
        let (image, readStatus) = makeImage(info) { bv_jpeg_read_rgb(decoder, $0, &info) }
        status = readStatus
        guard let image else { return .failure(failure(status, info, format: .jpeg, name: name, limit: options.maxPixels)) }
        return .success(image)
    }

    private static func decodePNG(_ data: UnsafePointer<UInt8>, _ count: Int, name: String,
                                  options: ImageDecodeOptions) -> Result<RGBImage, ImageError> {
        var info = bv_info()
        var decoder: OpaquePointer?
        let status = bv_png_open(data, count, limit(options), &decoder, &info)
        defer { bv_png_close(decoder) }
        guard status == BV_OK, let decoder else {
            return .failure(failure(status, info, format: .png, name: name, limit: options.maxPixels))
        }
        let (image, readStatus) = makeImage(info) { bv_png_read_rgb(decoder, $0, &info) }
        guard let image else { return .failure(failure(readStatus, info, format: .png, name: name, limit: options.maxPixels)) }
        return .success(image)
    }

    private static func decodeWebP(_ data: UnsafePointer<UInt8>, _ count: Int, name: String,
                                   options: ImageDecodeOptions) -> Result<RGBImage, ImageError> {
        var info = bv_info()
        let status = bv_webp_info(data, count, limit(options), &info)
        guard status == BV_OK else {
            return .failure(failure(status, info, format: .webp, name: name, limit: options.maxPixels))
        }
        let (image, readStatus) = makeImage(info) { bv_webp_read_rgb(data, count, $0, &info) }
        guard let image else { return .failure(failure(readStatus, info, format: .webp, name: name, limit: options.maxPixels)) }
        return .success(image)
    }

    private static func decodeTIFF(_ data: UnsafePointer<UInt8>, _ count: Int, name: String,
                                   options: ImageDecodeOptions) -> Result<RGBImage, ImageError> {
        var info = bv_info()
        var decoder: OpaquePointer?
        let status = bv_tiff_open(data, count, limit(options), &decoder, &info)
        defer { bv_tiff_close(decoder) }
        guard status == BV_OK, let decoder else {
            return .failure(failure(status, info, format: .tiff, name: name, limit: options.maxPixels))
        }
        let (image, readStatus) = makeImage(info) { bv_tiff_read_rgb(decoder, $0, &info) }
        guard let image else { return .failure(failure(readStatus, info, format: .tiff, name: name, limit: options.maxPixels)) }
        return .success(image)
    }

    // MARK: Files

    /// Reads a regular file whole, refusing directories, devices, FIFOs and files over `maxBytes`.
    static func readFile(_ path: String, maxBytes: Int) throws(ImageError) -> [UInt8] {
        // O_NONBLOCK: opening a FIFO must not wait for a writer (regular files ignore the flag).
        let fd = FileSystemPath.withCString(path) { open($0, O_RDONLY | O_CLOEXEC | O_NONBLOCK) }
        if fd < 0 { throw .unreadable(path: path, reason: String(cString: strerror(errno))) }
        defer { close(fd) }
        var st = stat()
        if fstat(fd, &st) != 0 { throw .unreadable(path: path, reason: String(cString: strerror(errno))) }
        if (st.st_mode & S_IFMT) != S_IFREG { throw .unreadable(path: path, reason: "not a regular file") }
        let size = Int(st.st_size)
        if size > maxBytes { throw .unreadable(path: path, reason: "\(size) bytes exceed the limit of \(maxBytes)") }
        if size == 0 { throw .empty(path: path) }
        var failure: String?
        let bytes = [UInt8](unsafeUninitializedCapacity: size) { buffer, initialized in
            var done = 0
            while done < size {
                let n = read(fd, buffer.baseAddress! + done, size - done)
                if n < 0 {
                    if errno == EINTR { continue }
                    failure = String(cString: strerror(errno))
                    break
                }
                if n == 0 { break }  // the file shrank while being read
                done += n
            }
            initialized = done
        }
        if let failure { throw .unreadable(path: path, reason: failure) }
        if bytes.isEmpty { throw .empty(path: path) }
        return bytes
    }
}
