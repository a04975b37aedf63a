/// Colours and markers of the classes in a picture. Ten colours stay distinguishable for the
/// common colour-vision deficiencies (Okabe & Ito's eight without black, plus Tol's teal and
/// wine); twenty classes are told apart by colour and marker: the ten largest as discs, the next
/// ten as diamonds. Every other class is drawn small and grey.
public struct ClassPalette: Sendable {
    public enum Marker: String, Sendable { case disc, diamond, small }

    public struct Style: Sendable, Equatable {
        /// `#rrggbb`
        public let colour: String
        public let marker: Marker
    }

    static let colours = ["#E69F00", "#56B4E9", "#009E73", "#F0E442", "#0072B2",
                          "#D55E00", "#CC79A7", "#44AA99", "#882255", "#999933"]
    static let other = "#B4B4B4"
    /// Classes drawn in colour.
    public static let highlighted = 20

    /// Class names with their counts, largest first (ties by name).
    public let classes: [(name: String, count: Int)]

    /// `labels`: one per point.
    public init(labels: [String]) {
        var counts: [String: Int] = [:]
        for label in labels { counts[label, default: 0] += 1 }
        classes = counts.map { (name: $0.key, count: $0.value) }.sorted { ($1.count, $0.name) < ($0.count, $1.name) }
    }

    /// The style of the class ranked `rank` (0 = largest).
    public func style(rank: Int) -> Style {
        guard rank < Self.highlighted else { return Style(colour: Self.other, marker: .small) }
        return Style(colour: Self.colours[rank % Self.colours.count], marker: rank < Self.colours.count ? .disc : .diamond)
    }

    /// RGB components 0…1 of a `#rrggbb` colour (for Cairo).
    static func components(_ colour: String) -> (Double, Double, Double) {
        let value = Int(colour.dropFirst(), radix: 16) ?? 0
        return (Double((value >> 16) & 255) / 255, Double((value >> 8) & 255) / 255, Double(value & 255) / 255)
    }
}
