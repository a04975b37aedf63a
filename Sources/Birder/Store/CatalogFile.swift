import BirderIO
import BirderModels
import Foundation

/// Further catalogue entries from a JSON file (`$BIRDER_CATALOG`): one's own checkpoints published
/// on one's own server, or a stand-in model on a test mirror. Each entry is fetched and verified as a
/// published one is; an entry named like a published model replaces it.
///
/// ```json
/// [{"name": "rdnet_t_mine", "network": "rdnet_t", "resolution": [224, 224],
///   "url": "https://models.example.org/rdnet_t_mine", "size_mb": 87.2,
///   "sha256": "ff68…72ab", "heads": ["species"], "description": "…"}]
/// ```
/// `url` is the folder: the checkpoint is `<url>/<name>.pt`, a head `<url>/<name>-<level>.head.pt`.
enum CatalogFile {
    /// Larger is surely not a list of models (and is not read).
    static let maximumBytes = 1 << 20

    private struct Entry: Decodable {
        let name: String
        let network: String
        let resolution: [Int]?
        let url: String
        let size_mb: Double
        let sha256: String
        let heads: [String]?
        let description: String?
    }

    static func load(_ path: String) throws(ModelStoreError) -> [PretrainedModel] {
        let contents: FileContents
        do {
            contents = try FileContents(path: path) { (_, size) throws(BirderIOError) in
                if size > maximumBytes {
                    throw .invalidContent(path: path, reason: "\(size) bytes; a catalogue file has at most \(maximumBytes)")
                }
            }
        } catch {
            throw .invalidCatalog(path: path, reason: String(describing: error))
        }
        let entries: [Entry]
        do {
            entries = try JSONDecoder().decode([Entry].self, from: Data(contents.byteArray))
        } catch {
            throw .invalidCatalog(path: path, reason: "not a JSON array of catalogue entries (\(error))")
        }
        var seen = Set<String>()
        return try entries.map { entry throws(ModelStoreError) in
            func refuse(_ reason: String) -> ModelStoreError { .invalidCatalog(path: path, reason: "'\(entry.name)': \(reason)") }
            // Names and levels become file names in the models directory: no separators, no dot files.
            guard isFileNamePart(entry.name), seen.insert(entry.name).inserted else { throw refuse("not a plain, unique file name") }
            for level in entry.heads ?? [] where !isFileNamePart(level) { throw refuse("head '\(level)' is not a plain name") }
            guard entry.sha256.count == 64, entry.sha256.allSatisfy(\.isHexDigit) else { throw refuse("sha256 is not 64 hex digits") }
            guard entry.size_mb.isFinite, entry.size_mb >= 0 else { throw refuse("size_mb is not a size") }
            guard let scheme = URL(string: entry.url)?.scheme?.lowercased(), ["http", "https"].contains(scheme) else {
                throw refuse("url is not an http(s) URL")
            }
            let resolution = entry.resolution ?? [224, 224]
            guard resolution.count == 2, resolution.allSatisfy({ (1...16_384).contains($0) }) else {
                throw refuse("resolution is not [height, width]")
            }
            let base = entry.url.hasSuffix("/") ? String(entry.url.dropLast()) : entry.url
            return PretrainedModel(name: entry.name, network: entry.network, tag: "", resolution: resolution, baseURL: base,
                                   fileSizeMB: entry.size_mb, sha256: entry.sha256.lowercased(),
                                   description: entry.description ?? "", heads: entry.heads ?? [])
        }
    }

    private static func isFileNamePart(_ value: String) -> Bool {
        !value.isEmpty && value.count <= 200 && !value.hasPrefix(".")
            && value.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || "_-.".contains($0)) }
    }
}
