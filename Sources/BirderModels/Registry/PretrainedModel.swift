/// A published Birder checkpoint: where it lives and how to recognise it.
public struct PretrainedModel: Sendable, Equatable {
    /// Registry name, e.g. `rdnet_t_ibot-bioscan5m`; the file is `<name>.pt`.
    public let name: String
    /// Birder network name, e.g. `rdnet_t`.
    public let network: String
    public let tag: String
    /// [H, W] the weights were trained at.
    public let resolution: [Int]
    /// Folder URL; the file is `<baseURL>/<name>.pt`.
    public let baseURL: String
    /// Size as Birder's registry gives it, in MiB rounded to 0.1.
    public let fileSizeMB: Double
    public let sha256: String
    public let description: String
    /// Taxonomic levels of the linear-probe heads published beside it (`<name>-<level>.head.pt`).
    public let heads: [String]

    public init(name: String, network: String, tag: String, resolution: [Int], baseURL: String, fileSizeMB: Double,
                sha256: String, description: String, heads: [String]) {
        self.name = name
        self.network = network
        self.tag = tag
        self.resolution = resolution
        self.baseURL = baseURL
        self.fileSizeMB = fileSizeMB
        self.sha256 = sha256
        self.description = description
        self.heads = heads
    }

    public var fileName: String { "\(name).pt" }

    public func headFileName(_ level: String) -> String { "\(name)-\(level).head.pt" }

    /// The checkpoint's URL; `hubBase` (e.g. `$BIRDER_HUB_URL`) replaces the scheme and host of
    /// the published URL, so a mirror or a test server can stand in for the hub.
    public func url(for fileName: String, hubBase: String? = nil) -> String {
        var base = baseURL
        if let hubBase, let path = PretrainedModel.pathPart(of: baseURL) {
            base = (hubBase.hasSuffix("/") ? String(hubBase.dropLast()) : hubBase) + path
        }
        return base + "/" + fileName
    }

    /// Whether `bytes` is consistent with the registry's rounded size (±0.1 MiB).
    public func sizeIsPlausible(_ bytes: Int64) -> Bool {
        abs(Double(bytes) / 1_048_576 - fileSizeMB) <= 0.1
    }

    /// `/owner/repo/...` of `scheme://host/owner/repo/...`.
    static func pathPart(of url: String) -> String? {
        let chars = Array(url)
        guard let schemeEnd = (0..<max(0, chars.count - 2)).first(where: { chars[$0] == ":" && chars[$0 + 1] == "/" && chars[$0 + 2] == "/" }),
              let pathStart = ((schemeEnd + 3)..<chars.count).first(where: { chars[$0] == "/" }) else { return nil }
        return String(chars[pathStart...])
    }

    public static func named(_ name: String) -> PretrainedModel? { catalog.first { $0.name == name } }
}
