import Foundation

/// What a click on a sample opens: the image file, when it exists on this machine as the report is
/// written — relative to the report's folder when the image lies under it (the two can be moved
/// or shared together), otherwise a `file://` URL. Samples that name no readable file get none.
public enum ImageLinks {
    public static func links(samples: [String], reportPath: String) -> [String?] {
        let cwd = FileManager.default.currentDirectoryPath
        let reportDirectory = (absolute(reportPath, cwd: cwd) as NSString).deletingLastPathComponent
        return samples.map { sample in
            let path = absolute(sample, cwd: cwd)
            guard FileManager.default.isReadableFile(atPath: path) else { return nil }
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), !isDirectory.boolValue else { return nil }
            if path.hasPrefix(reportDirectory + "/") {
                return encode(String(path.dropFirst(reportDirectory.count + 1)))
            }
            return "file://" + encode(path)
        }
    }

    static func absolute(_ path: String, cwd: String) -> String {
        let joined = path.hasPrefix("/") ? path : cwd + "/" + path
        return (joined as NSString).standardizingPath
    }

    /// Percent-encodes everything but unreserved characters and `/`, so `#`, `?`, `%`, quotes and
    /// spaces in a file name stay part of the path.
    static func encode(_ path: String) -> String {
        let allowed = CharacterSet(charactersIn: "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~/")
        return path.addingPercentEncoding(withAllowedCharacters: allowed) ?? path
    }
}
