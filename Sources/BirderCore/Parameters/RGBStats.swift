/// Per-channel normalisation statistics (Birder's `rgb_stats`), as the Python floats Birder
/// stores; torch rounds them to Float32 before use, and so does `InferenceTransform`.
public struct RGBStats: Sendable, Equatable {
    public var mean: [Double]
    public var std: [Double]

    public init(mean: [Double], std: [Double]) {
        self.mean = mean
        self.std = std
    }

    /// Three finite means and three finite, non-zero stds: what an RGB transform can use.
    public var isValidForRGB: Bool {
        mean.count == 3 && std.count == 3 && mean.allSatisfy(\.isFinite) && std.allSatisfy { $0.isFinite && $0 != 0 }
    }

    /// Birder's `get_rgb_stats` presets.
    public static let birder = RGBStats(mean: [0.5191, 0.5306, 0.4877], std: [0.2316, 0.2304, 0.2588])
    public static let imagenet = RGBStats(mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225])
    public static let clip = RGBStats(mean: [0.48145466, 0.4578275, 0.40821073], std: [0.26862954, 0.26130258, 0.27577711])
    public static let neutral = RGBStats(mean: [0, 0, 0], std: [1, 1, 1])
    public static let centered = RGBStats(mean: [0.5, 0.5, 0.5], std: [0.5, 0.5, 0.5])
}
