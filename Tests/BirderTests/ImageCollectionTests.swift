import Birder
import BirderTestSupport
import Foundation
import Testing

@Suite struct ImageCollectionTests {
    /// Bitmaps, TIFFs and Netpbm images in a folder are found (any case of the extension), as Birder's folder
    /// loader finds them, and GIF and PBM, which Pillow reads; other files are not.
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
        try Data(contentsOf: Fixtures.url("vision/gif/pil.gif")).write(to: dir.appendingPathComponent("h.gif"))
        try Data(contentsOf: Fixtures.url("vision/netpbm/plain.pbm")).write(to: dir.appendingPathComponent("i.pbm"))
        let paths = try ImageCollection.paths([dir.path])
        #expect(paths == ["a.bmp", "d.tif", "e.tiff", "f.ppm", "g.pgm", "h.gif", "i.pbm", "sub/B.BMP"].map { dir.appendingPathComponent($0).path })
        #expect(try ImageDecoder.decode(path: paths[5]).width == 37)
        #expect(try ImageDecoder.decode(path: paths[2]).width == 37)
        let image = try ImageDecoder.decode(path: paths[1])
        #expect(image.width == 37 && image.height == 23)
    }
}

@Suite struct ImageCollectionWalkTests {
    /// A walk takes links to files, does not follow links to folders (a link back up the tree would
    /// never end), descends a folder named like an image rather than listing it, and counts the other
    /// files it passed over, hidden ones aside.
    @Test func linksFoldersAndOtherFiles() throws {
        let fm = FileManager.default
        let dir = fm.temporaryDirectory.appendingPathComponent("birder-walk-\(UUID().uuidString)")
        defer { try? fm.removeItem(at: dir) }
        let photo = try Data(contentsOf: Fixtures.url("cli/photos/a_chelsea.jpg"))
        try fm.createDirectory(at: dir.appendingPathComponent("x.jpg"), withIntermediateDirectories: true)
        try photo.write(to: dir.appendingPathComponent("x.jpg/inner.JPG"))
        try photo.write(to: dir.appendingPathComponent("a.jpg"))
        try Data("notes".utf8).write(to: dir.appendingPathComponent("notes.txt"))
        try Data("x".utf8).write(to: dir.appendingPathComponent("README"))
        try Data("x".utf8).write(to: dir.appendingPathComponent(".DS_Store"))
        try fm.createSymbolicLink(atPath: dir.appendingPathComponent("loop").path, withDestinationPath: dir.path)
        try fm.createSymbolicLink(atPath: dir.appendingPathComponent("b.jpg").path, withDestinationPath: dir.appendingPathComponent("a.jpg").path)
        let scan = try ImageCollection.scan([dir.path])
        #expect(scan.paths == ["a.jpg", "b.jpg", "x.jpg/inner.JPG"].map { dir.path + "/" + $0 })
        #expect(scan.skipped == ["README", "notes.txt"].map { dir.path + "/" + $0 })
        #expect(scan.skippedSummary == "2 files skipped (not an image format the engine reads: 1 .txt, 1 no extension; e.g. \(dir.path)/README)")
        #expect(scan.unreadableFolders.isEmpty)
        // A trailing slash names the same images.
        #expect(try ImageCollection.paths([dir.path + "/"]) == scan.paths)
        #expect(throws: ImageCollectionError.noSuchFile(dir.path + "/missing")) { try ImageCollection.scan([dir.path + "/missing"]) }
    }
}
