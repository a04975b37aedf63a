import Foundation

/// Runs the built `birder` executable (swift-argument-parser's example-test habit: check the real
/// binary's exact output and exit status).
struct BirderProcess {
    struct Result {
        let status: Int32
        /// The watchdog killed it.
        let timedOut: Bool
        let stdout: String
        let stderr: String
    }

    /// .build/<config>/birder, beside the test bundle.
    static var executable: URL {
        var directory = Bundle.main.bundleURL
        if directory.pathExtension == "xctest" { directory.deleteLastPathComponent() }
        for candidate in [directory, directory.deletingLastPathComponent()] {
            let url = candidate.appendingPathComponent("birder")
            if FileManager.default.isExecutableFile(atPath: url.path) { return url }
        }
        return directory.appendingPathComponent("birder")
    }

    /// Runs `birder` (or `executable`) to the end. A watchdog kills it with SIGKILL after `watchdog`
    /// seconds so a hang fails the test (`Result.timedOut`) instead of stalling the suite; `started`
    /// is called with the running process (to signal it).
    static func run(_ arguments: [String], environment: [String: String] = [:], directory: URL? = nil,
                    executable: URL? = nil, watchdog: TimeInterval = 300,
                    started: (Process) throws -> Void = { _ in }) throws -> Result {
        let process = Process()
        process.executableURL = executable ?? Self.executable
        process.arguments = arguments
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        if let directory { process.currentDirectoryURL = directory }
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        let killed = UncheckedBox<Bool>()
        let watchdogItem = DispatchWorkItem {
            killed.value = true
            kill(process.processIdentifier, SIGKILL)
        }
        DispatchQueue.global().asyncAfter(deadline: .now() + watchdog, execute: watchdogItem)
        defer { watchdogItem.cancel() }
        // Read both pipes while the process runs so neither can fill up and block it.
        let outData = UncheckedBox<Data>(), errData = UncheckedBox<Data>()
        let group = DispatchGroup()
        DispatchQueue.global().async(group: group) { outData.value = out.fileHandleForReading.readDataToEndOfFile() }
        DispatchQueue.global().async(group: group) { errData.value = err.fileHandleForReading.readDataToEndOfFile() }
        do { try started(process) } catch {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
            throw error
        }
        process.waitUntilExit()
        group.wait()
        watchdogItem.cancel()
        return Result(status: process.terminationStatus, timedOut: killed.value == true,
                      stdout: String(decoding: outData.value ?? Data(), as: UTF8.self),
                      stderr: String(decoding: errData.value ?? Data(), as: UTF8.self))
    }

    static func temporaryDirectory() throws -> URL {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("birder-cli-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        return dir
    }
}

final class UncheckedBox<T>: @unchecked Sendable { var value: T? }
