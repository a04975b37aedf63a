import CBirderKernels
import Foundation

/// A set of CPU kernels, each built for one instruction set. Chosen once per compute context:
/// the best the CPU runs, or the one `BIRDER_ISA` names (for tests and benchmarks).
public enum InstructionSet: String, CaseIterable, Sendable, CustomStringConvertible {
    /// The target's baseline (SSE2 on x86-64, NEON on arm64), vectorised by the compiler.
    case portable
    /// AVX2 + FMA (x86-64).
    case avx2

    /// Whether this build has the set and this CPU runs it.
    public var isSupported: Bool { bk_kernels_supported(rawValue) != 0 }

    /// The sets this CPU runs, fastest last.
    public static var supported: [InstructionSet] { allCases.filter(\.isSupported) }

    /// The fastest set this CPU runs.
    public static var best: InstructionSet {
        InstructionSet(rawValue: String(cString: bk_kernels_best().pointee.name)) ?? .portable
    }

    /// Whether the set's bf16 kernels use the CPU's bf16 instructions (else they emulate them).
    public var runsBF16Natively: Bool {
        guard let table = bk_kernels_named(rawValue) else { return false }
        return table.pointee.bf16_native != 0
    }

    /// The environment variable that overrides `best` for a default context.
    public static let environmentKey = "BIRDER_ISA"

    /// The set `BIRDER_ISA` names in `environment`, nil when it is unset or empty.
    public static func fromEnvironment(_ environment: [String: String]) throws(ComputeError) -> InstructionSet? {
        guard let name = environment[environmentKey], !name.isEmpty else { return nil }
        guard let set = InstructionSet(rawValue: name.lowercased()) else {
            throw .unknownInstructionSet(name, known: allCases.map(\.rawValue))
        }
        guard set.isSupported else { throw .unsupportedInstructionSet(set) }
        return set
    }

    /// The set a default context uses: `BIRDER_ISA`'s when it names one, else `best`.
    public static func preferred(environment: [String: String] = ProcessInfo.processInfo.environment)
        throws(ComputeError) -> InstructionSet {
        try fromEnvironment(environment) ?? best
    }

    public var description: String { rawValue }
}

/// The function table of one instruction set (static C data, never freed or changed), and the
/// precision weights are packed in when a layer is built with it (a compute context's own table
/// is fp32; the GEMM follows each layer's packed weights).
package struct KernelTable: @unchecked Sendable, Equatable {
    package let table: UnsafePointer<bk_kernels>
    package let precision: Precision

    package init(_ set: InstructionSet, precision: Precision = .fp32) throws(ComputeError) {
        guard let table = bk_kernels_named(set.rawValue) else { throw .unsupportedInstructionSet(set) }
        self.table = table
        self.precision = precision
    }

    package var kernels: bk_kernels { table.pointee }
    /// Output columns per packed weight panel: what `PackedLinear` lays its weights out for.
    package var panelWidth: Int { Int(table.pointee.panel_width) }
    /// Floats per vector: what depthwise taps and biases are padded to.
    package var vectorFloats: Int { Int(table.pointee.vector_floats) }
    package var name: String { String(cString: table.pointee.name) }

    package static func == (a: KernelTable, b: KernelTable) -> Bool { a.table == b.table && a.precision == b.precision }
}

public enum ComputeError: Error, CustomStringConvertible, Equatable {
    case unknownInstructionSet(String, known: [String])
    case unsupportedInstructionSet(InstructionSet)
    case invalidThreadCount(Int)
    /// Weights packed for one kernel layout, run with a context whose kernels expect another.
    case incompatibleKernels(packedFor: String, context: String)

    public var description: String {
        switch self {
        case let .unknownInstructionSet(name, known):
            return "unknown instruction set '\(name)' (known: \(known.joined(separator: ", ")))"
        case let .unsupportedInstructionSet(set):
            return "this CPU or build cannot run the \(set) kernels (supported: \(InstructionSet.supported.map(\.rawValue).joined(separator: ", ")))"
        case let .invalidThreadCount(count):
            return "thread count \(count) is out of range (1…\(ComputeContext.maximumThreads))"
        case let .incompatibleKernels(packed, context):
            return "the model's weights are laid out for the \(packed) kernels, the compute context uses \(context)"
        }
    }
}
