import BirderVision
import CImageCodecs
import Foundation

/// A small JPEG of an image for embedding in a report: decoded (a JPEG at a reduced DCT scale,
/// which is much faster for camera photos), shrunk by averaging the source pixels each thumbnail
/// pixel covers, encoded by libjpeg-turbo.
enum Thumbnail {
    /// The JPEG bytes of `path` at most `size` pixels on its longer side (never enlarged).
    static func jpeg(path: String, size: Int, quality: Int = 72) throws -> (bytes: [UInt8], width: Int, height: Int) {
        var options = ImageDecodeOptions()
        options.applyEXIFOrientation = true
        options.jpegDCTScalingMinimum = PixelSize(width: size, height: size)
        let image = try ImageDecoder.decode(path: path, options: options)
        let small = shrink(image, longerSide: size)
        return (try encode(small, quality: quality), small.width, small.height)
    }

    /// Box-filtered downscale so the longer side is at most `longerSide`.
    static func shrink(_ image: RGBImage, longerSide: Int) -> RGBImage {
        let scale = Double(max(image.width, image.height)) / Double(max(1, longerSide))
        guard scale > 1 else { return image }
        let width = max(1, Int((Double(image.width) / scale).rounded())), height = max(1, Int((Double(image.height) / scale).rounded()))
        var pixels = [UInt8](repeating: 0, count: width * height * 3)
        image.pixels.withUnsafeBufferPointer { source in
            for y in 0..<height {
                let y0 = y * image.height / height, y1 = max(y0 + 1, (y + 1) * image.height / height)
                for x in 0..<width {
                    let x0 = x * image.width / width, x1 = max(x0 + 1, (x + 1) * image.width / width)
                    var r = 0, g = 0, b = 0
                    for sy in y0..<y1 {
                        var p = (sy * image.width + x0) * 3
                        for _ in x0..<x1 {
                            r += Int(source[p]); g += Int(source[p + 1]); b += Int(source[p + 2])
                            p += 3
                        }
                    }
                    let area = (y1 - y0) * (x1 - x0)
                    let q = (y * width + x) * 3
                    pixels[q] = UInt8((r + area / 2) / area)
                    pixels[q + 1] = UInt8((g + area / 2) / area)
                    pixels[q + 2] = UInt8((b + area / 2) / area)
                }
            }
        }
        return RGBImage(width: width, height: height, pixels: pixels)
    }

    struct EncodingError: Error, CustomStringConvertible {
        let description: String
    }

    static func encode(_ image: RGBImage, quality: Int) throws -> [UInt8] {
        var output: UnsafeMutablePointer<UInt8>?
        var size = 0
        var message = [CChar](repeating: 0, count: 240)
        let status = image.pixels.withUnsafeBufferPointer { pixels in
            message.withUnsafeMutableBufferPointer { text in
                bv_jpeg_encode_rgb(pixels.baseAddress, Int32(image.width), Int32(image.height), Int32(quality), &output, &size, text.baseAddress)
            }
        }
        guard status == BV_OK, let output else {
            throw EncodingError(description: "JPEG encoding failed: " + String(decoding: message.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self))
        }
        defer { bv_free(output) }
        return Array(UnsafeBufferPointer(start: output, count: size))
    }
}
