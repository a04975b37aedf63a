import Foundation
import Testing
import BirderCore
import BirderTestSupport
@testable import BirderIO

/// A weights file truncated, rewritten or grown while it is in use: an error while reading, the
/// weights as first read afterwards, never a crash (a memory-mapped file raised SIGBUS here).
@Suite struct ChangedFileTests {
    func copyFixture(_ name: String, to dir: URL) throws -> String {
        let path = dir.appendingPathComponent(name).path
        try FileManager.default.copyItem(atPath: ioFixture(name), toPath: path)
        return path
    }

    @Test(arguments: ["tiny_rdnet_3.pt", "tiny_rdnet_3.safetensors"])
    func weightsSurviveTheFileBeingTruncatedAndRewritten(_ name: String) throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = try copyFixture(name, to: dir)
        let checkpoint = try Checkpoint.load(path)
        let before = checkpoint.state.names.map { checkpoint.state[$0]!.doubles() }
        #expect(before.count > 10)

        // Truncate in place (what a second download or `cp` over the file does), then refill it.
        #expect(truncate(path, 0) == 0)
        let garbage = [UInt8](repeating: 0xFF, count: 4096)
        try Data(garbage).write(to: URL(fileURLWithPath: path))

        let after = checkpoint.state.names.map { checkpoint.state[$0]!.doubles() }
        #expect(after == before)
        for name in checkpoint.state.names {
            let tensor = try checkpoint.state.float32Tensor(named: name)
            #expect(tensor.shape == checkpoint.state[name]!.shape)
        }
    }

    @Test func npyEmbeddingsSurviveTruncation() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = try copyFixture("f32.npy", to: dir)
        let stored = try NPY.read(path)
        let before = stored.doubles()
        #expect(truncate(path, 0) == 0)
        #expect(stored.doubles() == before)
        #expect(stored.float32Tensor().shape == stored.shape)
    }

    @Test func fileShrinkingWhileBeingReadIsAnError() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = try copyFixture("tiny_rdnet_3.pt", to: dir)
        let file = try RegularFile(path: path)
        defer { file.close() }
        #expect(truncate(path, 1000) == 0)
        let buffer = UnsafeMutableRawPointer.allocate(byteCount: file.size, alignment: 64)
        defer { buffer.deallocate() }
        let error = expectIOError { try file.read(into: buffer, count: file.size, at: 0) }
        #expect(error?.description == "\(path): file shrank while being read (1000 of \(file.size) bytes read); was it being written?")
    }

    @Test func fileChangedWhileBeingReadIsAnError() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = try copyFixture("tiny_rdnet_3.pt", to: dir)

        // Grown: the bytes read may mix two versions.
        let grown = try RegularFile(path: path)
        let handle = try #require(FileHandle(forWritingAtPath: path))
        try handle.seekToEnd()
        try handle.write(contentsOf: Data([1, 2, 3]))
        try handle.close()
        let growth = expectIOError { try grown.checkUnchanged() }
        #expect(growth?.description.contains("file changed while being read") == true, "\(String(describing: growth))")
        grown.close()

        // Same size, rewritten (a new modification time; set explicitly, since two writes within
        // one kernel clock tick can share a timestamp).
        let rewritten = try RegularFile(path: path)
        var times = [timespec(tv_sec: 1_000_000_000, tv_nsec: 0), timespec(tv_sec: 1_000_000_000, tv_nsec: 0)]
        #expect(utimensat(AT_FDCWD, path, &times, 0) == 0)
        let rewrite = expectIOError { try rewritten.checkUnchanged() }
        #expect(rewrite?.description.contains("file changed while being read") == true, "\(String(describing: rewrite))")
        rewritten.close()

        // Untouched: no error.
        let untouched = try RegularFile(path: path)
        try untouched.checkUnchanged()
        untouched.close()
    }

    @Test func emptyFilesAreRefusedByContent() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("empty.pt").path
        #expect(FileManager.default.createFile(atPath: path, contents: Data()))
        #expect(try FileContents(path: path).count == 0)
        #expect(expectIOError { _ = try TorchFile.load(path) }?.description == "\(path): not a PyTorch checkpoint (no ZIP signature)")
        #expect(expectIOError { _ = try Safetensors.load(path) }?.description.contains("file too short (0 bytes)") == true)
        #expect(expectIOError { _ = try NPY.read(path) }?.description == "\(path): invalid .npy file: no NUMPY magic")
    }

    @Test func fileLargerThanMemoryIsRefusedBeforeAllocating() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("sparse.pt").path
        #expect(FileManager.default.createFile(atPath: path, contents: Data("PK\u{3}\u{4}".utf8)))
        // Sparse: no disk space is used.
        let size = RegularFile.physicalMemory + (1 << 30)
        try #require(truncate(path, off_t(size)) == 0, "this file system cannot hold a sparse \(size)-byte file")
        let error = expectIOError { _ = try TorchFile.load(path) }
        #expect(error?.description == "\(path): file of \(size) bytes is larger than this machine's memory (\(RegularFile.physicalMemory) bytes)")
    }

    @Test func firstBytesAreCheckedBeforeTheRestIsRead() throws {
        // The check sees the first 512 bytes and the whole size, and what it throws is the error.
        let path = ioFixture("tiny_rdnet_3.pt")
        final class Seen: @unchecked Sendable { var prefix = -1, size = -1 }
        let seen = Seen()
        let error = expectIOError {
            _ = try FileContents(path: path) { (prefix, size) throws(BirderIOError) in
                seen.prefix = prefix.count
                seen.size = size
                throw .invalidContent(path: path, reason: "refused from the first bytes")
            }
        }
        #expect(seen.prefix == 512 && seen.size == 26817)
        #expect(error?.description == "\(path): refused from the first bytes")
    }
}
