import CBirderKernels

/// The instruction-set extensions of this CPU that kernel sets use or could use: what a benchmark
/// names beside the kernel set in use, and what tells a build's missing kernels from a CPU's
/// missing instructions.
public struct CPUFeatures: OptionSet, Sendable, CustomStringConvertible {
    public let rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }

    public static let avx2 = CPUFeatures(rawValue: UInt32(BK_CPU_AVX2))
    public static let fma = CPUFeatures(rawValue: UInt32(BK_CPU_FMA))
    public static let avx512f = CPUFeatures(rawValue: UInt32(BK_CPU_AVX512F))
    public static let avx512bw = CPUFeatures(rawValue: UInt32(BK_CPU_AVX512BW))
    public static let avx512vl = CPUFeatures(rawValue: UInt32(BK_CPU_AVX512VL))
    public static let avx512dq = CPUFeatures(rawValue: UInt32(BK_CPU_AVX512DQ))
    public static let avx512VNNI = CPUFeatures(rawValue: UInt32(BK_CPU_AVX512_VNNI))
    public static let avx512BF16 = CPUFeatures(rawValue: UInt32(BK_CPU_AVX512_BF16))

    /// This CPU's.
    public static var current: CPUFeatures { CPUFeatures(rawValue: UInt32(bk_cpu_features())) }

    static let names: [(CPUFeatures, String)] = [
        (.avx2, "avx2"), (.fma, "fma"), (.avx512f, "avx512f"), (.avx512bw, "avx512bw"), (.avx512vl, "avx512vl"),
        (.avx512dq, "avx512dq"), (.avx512VNNI, "avx512_vnni"), (.avx512BF16, "avx512_bf16"),
    ]

    /// The names as /proc/cpuinfo spells them, e.g. `avx2 fma avx512f … avx512_bf16`.
    public var description: String { Self.names.filter { contains($0.0) }.map(\.1).joined(separator: " ") }
}
