import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Writes to stderr (progress, warnings, per-file errors); stdout stays for results.
enum Terminal {
    static let stderrIsTTY = isatty(STDERR_FILENO) == 1

    static func error(_ message: String) {
        FileHandle.standardError.write(Data(("error: " + message + "\n").utf8))
    }

    static func note(_ message: String) {
        FileHandle.standardError.write(Data((message + "\n").utf8))
    }
}

/// A progress line on stderr: an in-place bar with rate and ETA on a terminal, a plain line every
/// few seconds otherwise (logs stay readable).
final class ProgressBar: @unchecked Sendable {
    private let total: Int64?
    private let label: String
    private let unit: String
    private let start = Date()
    private var lastDraw = Date.distantPast
    private var lastDrawn: Int64 = -1
    private let lock = NSLock()
    private let enabled: Bool

    init(label: String, total: Int64?, unit: String = "images", enabled: Bool = true) {
        self.label = label
        self.total = total
        self.unit = unit
        self.enabled = enabled
    }

    func update(_ done: Int64, force: Bool = false) {
        guard enabled else { return }
        lock.withLock {
            let now = Date()
            let interval = Terminal.stderrIsTTY ? 0.1 : 5
            guard force || now.timeIntervalSince(lastDraw) >= interval else { return }
            guard done != lastDrawn else { return }
            lastDraw = now
            lastDrawn = done
            let elapsed = max(now.timeIntervalSince(start), 1e-6)
            let rate = Double(done) / elapsed
            var line = "\(label) \(ProgressBar.amount(done, unit))"
            if let total, total > 0 {
                let fraction = min(1, Double(done) / Double(total))
                let width = 24
                let filled = Int(fraction * Double(width))
                let bar = String(repeating: "█", count: filled) + String(repeating: "░", count: width - filled)
                let eta = rate > 0 ? Double(total - done) / rate : 0
                line = "\(label) \(bar) \(Int(fraction * 100))% \(ProgressBar.amount(done, unit))/\(ProgressBar.amount(total, unit))"
                    + " \(ProgressBar.rate(rate, unit)) ETA \(ProgressBar.duration(eta))"
            } else {
                line += " \(ProgressBar.rate(rate, unit))"
            }
            FileHandle.standardError.write(Data((Terminal.stderrIsTTY ? "\r\u{1B}[2K" + line : line + "\n").utf8))
        }
    }

    func finish(_ done: Int64) {
        update(done, force: true)
        if enabled && Terminal.stderrIsTTY { FileHandle.standardError.write(Data("\n".utf8)) }
    }

    static func amount(_ value: Int64, _ unit: String) -> String {
        guard unit == "bytes" else { return "\(value)" }
        return String(format: "%.1f MB", Double(value) / 1_048_576)
    }

    static func rate(_ value: Double, _ unit: String) -> String {
        unit == "bytes" ? String(format: "%.1f MB/s", value / 1_048_576) : String(format: "%.1f \(unit)/s", value)
    }

    static func duration(_ seconds: Double) -> String {
        let s = Int(seconds.rounded())
        return String(format: "%d:%02d:%02d", s / 3600, (s / 60) % 60, s % 60)
    }
}

/// Ctrl-C asks the running command to stop between batches; outputs are written to a temporary
/// file and renamed only on success, so an interrupted run leaves nothing half-written.
enum Interrupt {
    nonisolated(unsafe) private static var source: (any DispatchSourceSignal)?
    private static let flag = InterruptFlag()

    static var requested: Bool { flag.value }

    static func install() {
        signal(SIGINT, SIG_IGN)
        let source = DispatchSource.makeSignalSource(signal: SIGINT, queue: .global())
        source.setEventHandler {
            if flag.value {
                // A second Ctrl-C aborts at once. The destination is never touched (outputs are renamed
                // into place only on success), but a hidden `.NAME.tmp-PID` file may stay behind.
                _exit(130)
            }
            flag.set()
            Terminal.note("\ninterrupted: finishing the current batch and stopping (Ctrl-C again to abort)")
        }
        source.resume()
        Interrupt.source = source
    }
}

private final class InterruptFlag: @unchecked Sendable {
    private let lock = NSLock()
    private var raised = false
    var value: Bool { lock.withLock { raised } }
    func set() { lock.withLock { raised = true } }
}

/// Where a command's results go: stdout, or a file written atomically (streamed into
/// `.<name>.tmp-<pid>` beside it and renamed on success, removed on failure or Ctrl-C).
final class OutputSink {
    let destination: URL?
    private let temporary: URL?
    private let handle: FileHandle

    /// Results to stdout.
    init() {
        destination = nil
        temporary = nil
        handle = FileHandle.standardOutput
    }

    /// Results to `path`; fails at once (before any work) when its directory is missing or not writable.
    init(path: String) throws {
        let destination = URL(fileURLWithPath: path)
        let directory = destination.deletingLastPathComponent().path
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw CLIError.usage("\(path): directory \(directory) does not exist")
        }
        let temporary = destination.deletingLastPathComponent()
            .appendingPathComponent(".\(destination.lastPathComponent).tmp-\(getpid())")
        guard FileManager.default.createFile(atPath: temporary.path, contents: nil),
              let handle = FileHandle(forWritingAtPath: temporary.path) else {
            throw CLIError.usage("\(path): cannot write in \(directory)")
        }
        self.destination = destination
        self.temporary = temporary
        self.handle = handle
    }

    /// Refuses an unwritable destination before any work is done.
    static func checkWritable(_ path: String) throws {
        try OutputSink(path: path).discard()
    }

    func write(_ text: String) throws { try write(Data(text.utf8)) }

    func write(_ data: Data) throws {
        do { try handle.write(contentsOf: data) } catch {
            discard()
            throw CLIError.io("\(destination?.path ?? "stdout"): \(error.localizedDescription)")
        }
    }

    /// Moves the finished file into place.
    func commit() throws {
        guard let destination, let temporary else { return }
        do { try handle.synchronize(); try handle.close() } catch {
            discard()
            throw CLIError.io("\(destination.path): \(error.localizedDescription)")
        }
        guard rename(temporary.path, destination.path) == 0 else {
            let reason = String(cString: strerror(errno))
            discard()
            throw CLIError.io("\(destination.path): \(reason)")
        }
    }

    func discard() {
        guard let temporary else { return }
        try? handle.close()
        try? FileManager.default.removeItem(at: temporary)
    }
}
