import Foundation
import Testing
@testable import BirderHub

/// The lock processes take turns on to fetch a file. `flock` locks belong to an open file
/// description, so two acquisitions in one process contend exactly as two processes do.
@Suite struct FileLockTests {
    func temporaryDirectory() throws -> URL {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("birder-lock-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        return dir
    }

    final class Flag: @unchecked Sendable {
        private let lock = NSLock()
        private var value = false
        var isSet: Bool { lock.withLock { value } }
        func set() { lock.withLock { value = true } }
    }

    @Test func aSecondHolderWaitsThenGetsItAndTheFileGoesWithTheLastRelease() throws {
        let path = try temporaryDirectory().appendingPathComponent("m.pt.lock").path
        let first = try FileLock.acquire(path)
        #expect(FileManager.default.fileExists(atPath: path))
        let waited = Flag(), acquired = Flag()
        let done = DispatchSemaphore(value: 0)
        Thread {
            if let second = try? FileLock.acquire(path, onWait: { waited.set() }) {
                acquired.set()
                second.release()
            }
            done.signal()
        }.start()
        let deadline = Date().addingTimeInterval(10)
        while !waited.isSet && Date() < deadline { usleep(10_000) }
        #expect(waited.isSet)
        #expect(!acquired.isSet, "both held the lock at once")
        // Released (and deleted) by the first: the second notices the deletion and locks the path afresh.
        first.release()
        #expect(done.wait(timeout: .now() + 10) == .success)
        #expect(acquired.isSet)
        #expect(!FileManager.default.fileExists(atPath: path))
    }

    @Test func aWaiterStopsWhenCancelled() throws {
        let path = try temporaryDirectory().appendingPathComponent("m.pt.lock").path
        let holder = try FileLock.acquire(path)
        defer { holder.release() }
        let error = #expect(throws: LockError.self) { try FileLock.acquire(path, isCancelled: { true }) }
        #expect(error == .cancelled(path))
    }

    @Test func aLeftoverLockFileDoesNotBlock() throws {
        // What a killed holder leaves: the file, but no lock (the kernel dropped it).
        let path = try temporaryDirectory().appendingPathComponent("m.pt.lock").path
        #expect(FileManager.default.createFile(atPath: path, contents: nil))
        let lock = try FileLock.acquire(path, onWait: { Issue.record("waited on a file nobody holds") })
        lock.release()
        #expect(!FileManager.default.fileExists(atPath: path))
    }

    @Test func aFIFOUnderTheLocksNameIsRefused() throws {
        let path = try temporaryDirectory().appendingPathComponent("m.pt.lock").path
        #expect(mkfifo(path, 0o644) == 0)
        let error = #expect(throws: LockError.self) { try FileLock.acquire(path) }
        #expect(error?.description.contains("FIFO") == true, "\(String(describing: error))")
    }
}
