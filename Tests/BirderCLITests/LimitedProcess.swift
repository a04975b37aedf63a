import Foundation

/// Runs the built `birder` as the hostile-input tests need it (issue 14): under a 1 GiB limit on
/// its address space, so a value that makes it allocate without bound fails instead of swapping
/// the machine, and under a watchdog, so a hang ends the test as a failure instead of blocking
/// the suite. The watchdog is generous and only ever kills; no test asserts on time.
enum LimitedProcess {
    static let addressSpaceBytes = 1 << 30
    static let watchdogSeconds = 300.0

    struct Result {
        let status: Int32
        let stdout: String
        let stderr: String
        /// The watchdog killed it.
        let hung: Bool

        /// Lines of stderr starting `error: `.
        var errorLines: [Substring] { stderr.split(separator: "\n").filter { $0.hasPrefix("error: ") } }
    }

    static func run(_ arguments: [String], directory: URL? = nil) throws -> Result {
        let process = Process()
        // prlimit(1) where util-linux has it; elsewhere the shell's ulimit (in KiB).
        if FileManager.default.isExecutableFile(atPath: "/usr/bin/prlimit") {
            process.executableURL = URL(fileURLWithPath: "/usr/bin/prlimit")
            process.arguments = ["--as=\(addressSpaceBytes)", "--", BirderProcess.executable.path] + arguments
        } else {
            process.executableURL = URL(fileURLWithPath: "/bin/sh")
            process.arguments = ["-c", "ulimit -v \(addressSpaceBytes / 1024) && exec \"$0\" \"$@\"",
                                 BirderProcess.executable.path] + arguments
        }
        // OpenBLAS reserves a buffer per thread of the machine at start-up; one thread keeps the
        // address space for what the command itself allocates.
        process.environment = ProcessInfo.processInfo.environment.merging(["OPENBLAS_NUM_THREADS": "1"]) { $1 }
        if let directory { process.currentDirectoryURL = directory }
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        let hung = UncheckedBox<Bool>()
        let watchdog = DispatchWorkItem {
            guard process.isRunning else { return }
            hung.value = true
            kill(process.processIdentifier, SIGKILL)
        }
        DispatchQueue.global().asyncAfter(deadline: .now() + watchdogSeconds, execute: watchdog)
        let outData = UncheckedBox<Data>(), errData = UncheckedBox<Data>()
        let group = DispatchGroup()
        DispatchQueue.global().async(group: group) { outData.value = out.fileHandleForReading.readDataToEndOfFile() }
        DispatchQueue.global().async(group: group) { errData.value = err.fileHandleForReading.readDataToEndOfFile() }
        process.waitUntilExit()
        watchdog.cancel()
        group.wait()
        return Result(status: process.terminationStatus,
                      stdout: String(decoding: outData.value ?? Data(), as: UTF8.self),
                      stderr: String(decoding: errData.value ?? Data(), as: UTF8.self),
                      hung: hung.value ?? false)
    }
}
