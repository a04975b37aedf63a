import Foundation
import Testing
import BirderCore
import BirderTestSupport
@testable import BirderIO

/// FIFOs, devices, directories and sockets given to a reader: a prompt error naming the path and
/// the kind of file, never a blocked `open()` or an endless read.
@Suite struct SpecialFileTests {
    /// Every BirderIO entry point that opens a file for reading.
    static let readers: [(String, @Sendable (String) throws -> Void)] = [
        ("TorchFile.load", { _ = try TorchFile.load($0) }),
        ("Safetensors.load", { _ = try Safetensors.load($0) }),
        ("NPY.read", { _ = try NPY.read($0) }),
        ("NPY.readFloat32", { _ = try NPY.readFloat32($0) }),
        ("WeightsFile.open", { _ = try WeightsFile.open($0) }),
        ("WeightsFileSummary.inspect", { _ = try WeightsFileSummary.inspect($0) }),
        ("Checkpoint.load", { _ = try Checkpoint.load($0) }),
        ("Head.load", { _ = try Head.load($0) }),
        ("FileContents", { _ = try FileContents(path: $0) }),
        ("FileContents.size", { _ = try FileContents.size(of: $0) }),
    ]

    enum Kind: String, CaseIterable, Sendable, CustomStringConvertible {
        case fifo, directory, zeroDevice, nullDevice, socket
        var description: String { rawValue }
        var expectedWords: String {
            switch self {
            case .fifo: "is a FIFO (named pipe), not a regular file"
            case .directory: "is a directory, not a regular file"
            case .zeroDevice, .nullDevice: "is a character device, not a regular file"
            case .socket: "is a socket, not a regular file"
            }
        }
    }

    /// Makes a file of `kind` in `dir`; returns its path and a socket descriptor to close, if any.
    func make(_ kind: Kind, in dir: URL) throws -> (path: String, socket: Int32?) {
        switch kind {
        case .fifo:
            let path = dir.appendingPathComponent("model.pt").path
            try #require(mkfifo(path, 0o600) == 0, "mkfifo: \(String(cString: strerror(errno)))")
            return (path, nil)
        case .directory:
            let path = dir.appendingPathComponent("models.pt").path
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: false)
            return (path, nil)
        case .zeroDevice: return ("/dev/zero", nil)
        case .nullDevice: return ("/dev/null", nil)
        case .socket:
            let path = dir.appendingPathComponent("s.pt").path
            let fd = Glibc.socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
            try #require(fd >= 0)
            var address = sockaddr_un()
            address.sun_family = sa_family_t(AF_UNIX)
            let bytes = Array(path.utf8)
            try #require(bytes.count < MemoryLayout.size(ofValue: address.sun_path))
            withUnsafeMutableBytes(of: &address.sun_path) { raw in
                raw.copyBytes(from: bytes)
                raw[bytes.count] = 0
            }
            let bound = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
            }
            try #require(bound == 0, "bind: \(String(cString: strerror(errno)))")
            return (path, fd)
        }
    }

    @Test(arguments: Kind.allCases) func refusedPromptlyByEveryReader(_ kind: Kind) throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let (path, socket) = try make(kind, in: dir)
        defer { if let socket { close(socket) } }
        for (reader, read) in Self.readers {
            let outcome = runWithWatchdog(unblocking: kind == .fifo ? path : nil) { try read(path) }
            switch outcome {
            case .hung:
                Issue.record("\(reader) on a \(kind) blocked (watchdog fired; unblocked by opening the FIFO for writing)")
            case .finished(nil):
                Issue.record("\(reader) accepted a \(kind)")
            case .finished(let error?):
                guard let error = error as? BirderIOError else {
                    Issue.record("\(reader): expected a BirderIOError, got \(error)")
                    continue
                }
                #expect(error.path == path, "\(reader): \(error)")
                #expect(error.description == "\(path): \(kind.expectedWords)", "\(reader): \(error)")
            }
        }
    }

    @Test func regularFileBehindTheSameReadersStillLoads() throws {
        // The control for the above: the same entry points accept a regular file.
        _ = try Checkpoint.load(ioFixture("tiny_rdnet_3.pt"))
        _ = try Head.load(ioFixture("tiny_rdnet_t_ibot-test-order.head.pt"))
        _ = try NPY.read(ioFixture("f32.npy"))
        #expect(try FileContents.size(of: ioFixture("f32.npy")) == 176)
    }

    enum Outcome {
        case finished((any Error)?)
        case hung
    }

    /// Runs `body` on its own thread. A hang fails instead of blocking the suite: after a generous
    /// wait (a hang detector, not a timing requirement: a working reader answers at once) a
    /// blocked FIFO open is released by opening the FIFO's write end.
    func runWithWatchdog(unblocking fifo: String?, _ body: @escaping @Sendable () throws -> Void) -> Outcome {
        final class Box: @unchecked Sendable {
            let done = DispatchSemaphore(value: 0)
            var error: (any Error)?
        }
        let box = Box()
        let thread = Thread {
            do { try body() } catch { box.error = error }
            box.done.signal()
        }
        thread.start()
        if box.done.wait(timeout: .now() + 60) == .success { return .finished(box.error) }
        if let fifo {
            let writer = open(fifo, O_WRONLY | O_NONBLOCK)
            if writer >= 0 { close(writer) }
        }
        _ = box.done.wait(timeout: .now() + 60)
        return .hung
    }
}
