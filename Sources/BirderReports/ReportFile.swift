import BirderIO

/// A report file written atomically (the project's `OutputFile`: a temporary beside it, renamed
/// into place on `commit`), so a failed run never leaves half a report.
final class ReportFile {
    private let file: OutputFile
    private var buffer: [UInt8] = []
    let path: String

    init(path: String) throws(ReportError) {
        self.path = path
        do { file = try OutputFile(path: path) } catch { throw .io(path: path, reason: Self.reason(error)) }
        buffer.reserveCapacity(1 << 16)
    }

    /// Refuses a destination that cannot be written, creating nothing.
    static func checkWritable(_ path: String) throws(ReportError) {
        do { _ = try OutputFile.target(for: path) } catch { throw .io(path: path, reason: reason(error)) }
    }

    func write(_ text: String) throws(ReportError) {
        buffer.append(contentsOf: text.utf8)
        if buffer.count >= 1 << 16 { try flush() }
    }

    func write(bytes: UnsafeRawBufferPointer) throws(ReportError) {
        try flush()
        do { try file.write(bytes) } catch { throw .io(path: path, reason: Self.reason(error)) }
    }

    private func flush() throws(ReportError) {
        guard !buffer.isEmpty else { return }
        do { try file.write(buffer) } catch { throw .io(path: path, reason: Self.reason(error)) }
        buffer.removeAll(keepingCapacity: true)
    }

    func commit() throws(ReportError) {
        try flush()
        do { try file.commit() } catch { throw .io(path: path, reason: Self.reason(error)) }
    }

    func discard() { file.discard() }

    /// The reason part of an IO error (its path is the report's, named once by `ReportError`).
    private static func reason(_ error: BirderIOError) -> String {
        if case let .io(_, reason) = error { return reason }
        return String(describing: error)
    }

    /// Writes a whole document; on any error nothing is left at `path`.
    static func write(path: String, _ body: (ReportFile) throws(ReportError) -> Void) throws(ReportError) {
        let file = try ReportFile(path: path)
        do {
            try body(file)
            try file.commit()
        } catch {
            file.discard()
            throw error
        }
    }
}
