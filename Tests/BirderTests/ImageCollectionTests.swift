import Birder
import BirderTestSupport
import Foundation
import Testing

@Suite struct ImageCollectionTests {
    /// Bitmaps, TIFFs and Netpbm images in a folder are found (any case of the extension), as Birder's folder
    /// loader finds them; other files are not.
    @Test func foldersYieldBitmaps() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("birder-collection-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: dir) }
        try FileManager.default.createDirectory(at: dir.appendingPathComponent("sub"), withIntermediateDirectories: true)
        let bitmap = try Data(contentsOf: Fixtures.url("vision/bmp/pil_rgb24.bmp"))
        try bitmap.write(to: dir.appendingPathComponent("a.bmp"))
        try bitmap.write(to: dir.appendingPathComponent("sub/B.BMP"))
        try Data("notes".utf8).write(to: dir.appendingPathComponent("c.txt"))
        let tiff = try Data(contentsOf: Fixtures.url("vision/tiff/rgb_lzw.tif"))
        try tiff.write(to: dir.appendingPathComponent("d.tif"))
        try tiff.write(to: dir.appendingPathComponent("e.tiff"))
        try Data(contentsOf: Fixtures.url("vision/netpbm/pil.ppm")).write(to: dir.appendingPathComponent("f.ppm"))
        try Data(contentsOf: Fixtures.url("vision/netpbm/pil.pgm")).write(to: dir.appendingPathComponent("g.pgm"))
        let paths = try ImageCollection.paths([dir.path])
        #expect(paths == ["a.bmp", "d.tif", "e.tiff", "f.ppm", "g.pgm", "sub/B.BMP"].map { dir.appendingPathComponent($0).path })
        #expect(try ImageDecoder.decode(path: paths[2]).width == 37)
        let image = try ImageDecoder.decode(path: paths[1])
        #expect(image.width == 37 && image.height == 23)
    }
}
