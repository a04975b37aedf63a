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

    static func run(_ arguments: [String], environment: [String: String] = [:], directory: URL? = nil,
                    started: (Process) throws -> Void = { _ in }) throws -> Result {
        // prlimit(1) where util-linux has it; elsewhere the shell's ulimit (in KiB).
        let wrapper: URL, prefix: [String]
        if FileManager.default.isExecutableFile(atPath: "/usr/bin/prlimit") {
            wrapper = URL(fileURLWithPath: "/usr/bin/prlimit")
            prefix = ["--as=\(addressSpaceBytes)", "--", BirderProcess.executable.path]
        } else {
            wrapper = URL(fileURLWithPath: "/bin/sh")
            prefix = ["-c", "ulimit -v \(addressSpaceBytes / 1024) && exec \"$0\" \"$@\"", BirderProcess.executable.path]
        }
        // OpenBLAS reserves a buffer per thread of the machine at start-up; one thread keeps the
        // address space for what the command itself allocates.
        let result = try BirderProcess.run(prefix + arguments, environment: environment.merging(["OPENBLAS_NUM_THREADS": "1"]) { $1 },
                                           directory: directory, executable: wrapper, watchdog: watchdogSeconds, started: started)
        return Result(status: result.status, stdout: result.stdout, stderr: result.stderr, hung: result.timedOut)
    }
}
