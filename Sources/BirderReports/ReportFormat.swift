/// The file format of a report, chosen by the extension of its path.
public enum ReportFormat: String, Sendable, CaseIterable {
    case html, svg, png, pdf

    /// The format `path`'s extension names (case-insensitive), or nil.
    public init?(path: String) {
        let name = path.split(separator: "/").last.map(String.init) ?? path
        guard let dot = name.lastIndex(of: "."), dot != name.startIndex else { return nil }
        self.init(rawValue: name[name.index(after: dot)...].lowercased())
    }

    /// The format of `path` among `allowed`, or an error naming the path and what is allowed —
    /// for commands to call before any work starts.
    public static func of(_ path: String, allowed: [ReportFormat]) throws(ReportError) -> ReportFormat {
        guard let format = ReportFormat(path: path), allowed.contains(format) else {
            throw .unsupportedFormat(path: path, allowed: allowed)
        }
        return format
    }
}

/// Why a report could not be written.
public enum ReportError: Error, CustomStringConvertible, Sendable, Equatable {
    case unsupportedFormat(path: String, allowed: [ReportFormat])
    case invalidData(String)
    case io(path: String, reason: String)
    case drawing(path: String, reason: String)

    public var description: String {
        switch self {
        case let .unsupportedFormat(path, allowed):
            let names = allowed.map { ".\($0.rawValue)" }
            let list = names.count > 1 ? names.dropLast().joined(separator: ", ") + " or " + names.last! : names.joined()
            return "\(path): a report's format is named by its extension: \(list)"
        case let .invalidData(reason): return "report: \(reason)"
        case let .io(path, reason): return "\(path): \(reason)"
        case let .drawing(path, reason): return "\(path): drawing failed: \(reason)"
        }
    }
}
