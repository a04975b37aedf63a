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

    /// Files no decoder reads are counted per extension with the first few named, hidden files
    /// and folders aside; a folder of nothing readable names them in its error.
    @Test func skippedFilesAreCountedNotDropped() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("birder-skipped-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: dir) }
        let fm = FileManager.default
        try fm.createDirectory(at: dir.appendingPathComponent("sub.d/.thumbs"), withIntermediateDirectories: true)
        let bitmap = try Data(contentsOf: Fixtures.url("vision/bmp/pil_rgb24.bmp"))
        try bitmap.write(to: dir.appendingPathComponent("a.bmp"))
        for name in ["b.xyz", "c.XYZ", "sub.d/d.txt", "sub.d/README", "e.xyz", ".DS_Store", "sub.d/.thumbs/f.dat"] {
            try Data("x".utf8).write(to: dir.appendingPathComponent(name))
        }
        let scan = try ImageCollection.scan([dir.path])
        #expect(scan.paths == [dir.appendingPathComponent("a.bmp").path])
        #expect(scan.skipped.count == 5)
        #expect(scan.skipped.byExtension == ["xyz": 3, "txt": 1, "": 1])
        #expect(scan.skipped.examples.count == SkippedFiles.exampleLimit)
        let text = scan.skipped.description
        #expect(text.hasPrefix("5 files skipped (unsupported format: .xyz ×3, "), "\(text)")
        #expect(text.contains("no extension ×1") && text.hasSuffix(", …"))

        try fm.removeItem(at: dir.appendingPathComponent("a.bmp"))
        do {
            _ = try ImageCollection.scan([dir.path])
            Issue.record("a folder without images must be refused")
        } catch {
            #expect(error.description.contains("no images found") && error.description.contains("5 files skipped"), "\(error)")
        }
    }
}
