/// The networks this engine implements, by Birder's names.
public enum NetworkRegistry {
    public static let rdnetNames = ["rdnet_t", "rdnet_s", "rdnet_b", "rdnet_l"]
    public static let vitNames = ["vit_t16", "vit_s16", "vit_b16", "vit_l16", "vit_b16_pn", "vit_l14_pn", "vit_h14_pn"]
    public static var names: [String] { rdnetNames + vitNames }

    /// The network of a Birder file name `NETWORK_TAG.pt` (or `NETWORK.pt`): the longest known
    /// network name that the name starts with, followed by `_`, `.` or `-`.
    public static func network(inFileName fileName: String) -> String? {
        names.filter { name in
            guard fileName.hasPrefix(name) else { return false }
            let rest = fileName.dropFirst(name.count)
            return rest.first.map { "_.-".contains($0) } ?? true
        }.max { $0.count < $1.count }
    }
}
