import Birder
import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Writes to stderr (progress, warnings, per-file errors); stdout stays for results.
enum Terminal {
    static let stderrIsTTY = isatty(STDERR_FILENO) == 1

    /// One line whatever the message holds: a line break in a file name is shown as `\n`, so it
    /// cannot split or forge error lines; bytes of a name that are not UTF-8 as `\xNN`.
    static func error(_ message: String) {
        let line = FileSystemPath.displayed(message).replacingOccurrences(of: "\n", with: "\\n").replacingOccurrences(of: "\r", with: "\\r")
        FileHandle.standardError.write(Data(("error: " + line + "\n").utf8))
    }

    static func note(_ message: String) {
        FileHandle.standardError.write(Data((FileSystemPath.displayed(message) + "\n").utf8))
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

/// SIGINT (Ctrl-C), SIGTERM and SIGHUP, handled alike. While a command reads an inference stream
/// (`cooperating`), the first one asks it to stop after the current batch: it discards its output
/// and exits with 128 + the signal's number. A second one, or one arriving at any other time
/// (loading a model, writing a result), aborts at once: every registered temporary output file
/// (`TemporaryFiles`) is removed first, so no `.NAME.tmp-…` file is left behind, and the status is
/// again 128 + the signal's number (130, 143, 129) as for a process the signal killed.
///
/// Signals are delivered through dispatch sources, so the handlers run on an ordinary queue thread,
/// not in signal context: they may lock. The state below is the only global mutable state of the
/// command line, kept because a signal handler can reach nothing else.
enum Interrupt {
    static let signals: [(number: Int32, name: String)] = [(SIGINT, "SIGINT"), (SIGTERM, "SIGTERM"), (SIGHUP, "SIGHUP")]
    nonisolated(unsafe) private static var sources: [any DispatchSourceSignal] = []
    private static let state = InterruptState()

    /// The signal that asked the current stream to stop, if any.
    static var requested: Int32? { state.received }

    static func name(of signal: Int32) -> String { signals.first { $0.number == signal }?.name ?? "signal \(signal)" }

    /// Installs the handlers (once, at start-up, before any output file exists). SIGXFSZ is ignored
    /// too, so a write past `ulimit -f` fails with EFBIG and is reported naming the output (and the
    /// temporary removed) instead of killing the process with a core dump and no message.
    static func install() {
        guard sources.isEmpty else { return }
        signal(SIGXFSZ, SIG_IGN)
        for (number, _) in signals {
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            // Signals that arrive together are coalesced into one event; `data` counts them, so two
            // quick ones still abort.
            source.setEventHandler { handle(number, count: source.data) }
            source.resume()
            sources.append(source)
        }
    }

    private static func handle(_ number: Int32, count: UInt) {
        guard state.requestStop(number), count < 2 else { TemporaryFiles.removeAllAndExit(128 + number) }
        let again = number == SIGINT ? "Ctrl-C" : "the signal"
        Terminal.note("\ninterrupted (\(name(of: number))): finishing the current batch and stopping (\(again) again to abort)")
    }

    /// Runs `body` with a first signal only recorded (`requested`), so it can stop at a batch boundary.
    static func cooperating<T>(_ body: () throws -> T) rethrows -> T {
        state.setCooperating(true)
        defer { state.setCooperating(false) }
        return try body()
    }
}

private final class InterruptState: @unchecked Sendable {
    private let lock = NSLock()
    private var cooperating = false
    private var signal: Int32?

    var received: Int32? { lock.withLock { signal } }

    func setCooperating(_ value: Bool) { lock.withLock { cooperating = value } }

    /// Records a first signal while cooperating; false when the process must abort now.
    func requestStop(_ number: Int32) -> Bool {
        lock.withLock {
            guard cooperating, signal == nil else { return false }
            signal = number
            return true
        }
    }
}

/// Where a command's results go: stdout, or a file (`OutputFile`: a regular file is streamed into
/// `.NAME.tmp-…` beside it and renamed on success, removed on failure or a signal; a device or
/// FIFO is written through; a symbolic link is followed; a directory is refused).
final class OutputSink {
    let destination: String?
    private let file: OutputFile?

    /// Results to stdout.
    init() {
        destination = nil
        file = nil
    }

    /// Results to `path`; fails at once (before any work) when it cannot be written.
    init(path: String) throws {
        do { file = try OutputFile(path: path) } catch { throw CLIError.usage(String(describing: error)) }
        destination = path
    }

    /// Refuses an unwritable destination (a missing directory, a directory, a block device…) before
    /// any work is done, creating nothing.
    static func checkWritable(_ path: String) throws {
        do { _ = try OutputFile.target(for: path) } catch { throw CLIError.usage(String(describing: error)) }
    }

    func write(_ text: String) throws { try write(Data(text.utf8)) }

    func write(_ data: Data) throws {
        guard let file else {
            try FileHandle.standardOutput.write(contentsOf: data)
            return
        }
        do {
            try file.write([UInt8](data))
        } catch {
            throw CLIError.io(String(describing: error))
        }
    }

    /// Moves the finished file into place.
    func commit() throws {
        do { try file?.commit() } catch { throw CLIError.io(String(describing: error)) }
    }

    func discard() { file?.discard() }
}
