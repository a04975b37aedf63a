import Birder
import BirderReports

/// `--report FILE` on cluster, probe eval and predict: the format comes from the extension, and a
/// wrong one or an unwritable place is refused before any work starts.
enum ReportOption {
    static func check(_ path: String, allowed: [ReportFormat]) throws {
        do { _ = try ReportFormat.of(path, allowed: allowed) } catch { throw CLIError.usage(error.description) }
        try OutputSink.checkWritable(path)
    }

    /// Runs a report's writing, turning its errors into the command line's.
    static func write(_ path: String, _ body: () throws -> Void) throws {
        do { try body() } catch let error as ReportError { throw CLIError.io(error.description) }
    }
}

extension ReportOption {
    /// `predict --report`'s contact sheet, opened before the run (its cards are added as images complete).
    static func contactSheet(_ path: String, model: BirderModel, topK: Int) throws -> ContactSheet {
        let heads = model.classifyingHeads.map(\.name)
        do {
            return try ContactSheet(path: path, title: "Predictions: \(model.name)",
                                    details: ["heads: \(heads.joined(separator: ", "))", "top \(topK)"], heads: heads, topK: topK)
        } catch {
            throw CLIError.usage(error.description)
        }
    }
}
