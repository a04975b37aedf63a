import CBirderKernels
import Foundation
import Testing
import BirderCore
import BirderTestSupport

/// The nearest bfloat16 by value, worked out in Double from the two neighbours (not from the
/// kernels' bit trick): ties go to the one with an even last mantissa bit.
enum BF16Reference {
    static func rounded(_ x: Float) -> Double {
        if x.isNaN || x.isInfinite { return Double(x) }
        let bits = x.bitPattern
        let below = Float(bitPattern: bits & 0xFFFF_0000)                        // toward zero
        let above = below.magnitude == .greatestFiniteMagnitude.magnitude.nextUp ? below
            : Float(bitPattern: (bits & 0xFFFF_0000) &+ 0x1_0000)                // away from zero (may be ±inf)
        let dBelow = abs(Double(x) - Double(below)), dAbove = abs(Double(x) - Double(above))
        if dBelow < dAbove { return Double(below) }
        if dAbove < dBelow { return Double(above) }
        return (below.bitPattern >> 16) & 1 == 0 ? Double(below) : Double(above)
    }
}

/// The bf16 precision's kernels: rounding and the bf16 GEMM, on every kernel set this CPU runs,
/// against naive Double loops over rounded operands.
@Suite struct BF16KernelTests {
    @Test func roundingIsToNearestTiesToEven() {
        let cases: [(Float, Float)] = [
            (1, 1), (-0.0, -0.0), (0x1p-149, 0),      // the smallest subnormal rounds to +0
            (1 + 0x1p-8, 1),                        // tie, 1 is even
            (1 + 3 * 0x1p-8, 1 + 0x1p-6),           // tie, 1 + 2⁻⁶ is even
            (1 + 0x1p-8 + 0x1p-20, 1 + 0x1p-7),     // just above the tie
            (-(1 + 0x1p-8 + 0x1p-20), -(1 + 0x1p-7)),
            (.greatestFiniteMagnitude, .infinity),  // above the largest bfloat16: rounds to inf
            (.infinity, .infinity), (-.infinity, -.infinity),
        ]
        for (x, expected) in cases {
            var value = x
            bk_round_bf16(&value, 1)
            #expect(value.bitPattern == expected.bitPattern || (value == 0 && expected == 0 && value.sign == expected.sign),
                    "\(x) → \(value), expected \(expected)")
        }
        var nan = Float.nan
        bk_round_bf16(&nan, 1)
        #expect(nan.isNaN)
    }

    @Test func roundingAgreesWithTheNearestByValue() {
        var rng = TestRandom(seed: 19)
        var values = (0..<20_000).map { _ in Float(bitPattern: UInt32(truncatingIfNeeded: rng.next())) }.filter(\.isFinite)
        // Exact ties and their neighbours, where a wrong rule shows.
        values += (0..<2_000).flatMap { i -> [Float] in
            let tie = Float(bitPattern: UInt32(truncatingIfNeeded: rng.next()) & 0x7F7F_0000 | 0x8000)
            return [tie, tie.nextUp, tie.nextDown, -tie]
        }
        var rounded = values
        bk_round_bf16(&rounded, rounded.count)
        for (x, r) in zip(values, rounded) where Double(r) != BF16Reference.rounded(x) {
            Issue.record("\(x) (0x\(String(x.bitPattern, radix: 16))) → \(r), nearest is \(BF16Reference.rounded(x))")
            return
        }
    }

    @Test(arguments: [(1, 1, 1), (13, 29, 37), (6, 16, 64), (7, 104, 200), (25, 40, 0), (11, 33, 1300), (30, 24, 900)])
    func bf16GEMMMatchesNaiveOverRoundedOperands(m: Int, n: Int, k: Int) {
        forEachInstructionSet { PackedKernelTests().checkPackedGEMM(m: m, n: n, k: k, context: $0, precision: .bf16) }
    }

    /// The vector rounding inside the GEMM (A is rounded 8 values at a time) on exact ties: with
    /// unit weights each output is the sum of the rounded A row.
    @Test func bf16GEMMRoundsAOperandTiesToEven() throws {
        let ties: [Float] = [1 + 0x1p-8, 1 + 3 * 0x1p-8, -(1 + 0x1p-8), 2 + 0x1p-7, 1 + 0x1p-8 + 0x1p-20, 0.5 + 0x1p-9,
                             3 + 0x1p-6, 1]
        let k = 16, n = 3
        let a = (0..<k).map { ties[$0 % ties.count] }
        let expected = a.map { BF16Reference.rounded($0) }.reduce(0, +)
        try forEachInstructionSet { context in
            let kernels = try KernelTable(context.instructionSet, precision: .bf16)
            let ones = [Float](repeating: 1, count: n * k)
            let linear = PackedLinear(weights: ones, outputs: n, inputs: k, bias: nil, kernels: kernels)
            var c = [Float](repeating: 0, count: n)
            kernels.packedGEMM(m: 1, a: a, lda: k, linear, c: &c, ldc: n)
            #expect(c.allSatisfy { Double($0) == expected }, "\(context.instructionSet): \(c), expected \(expected)")
        }
    }

    /// Sets that emulate bf16 give the same bits: the products of two bfloat16 values are exact in
    /// Float32 and every set sums them in the same order. (A native set sums pairs first: it agrees
    /// within rounding, as bf16GEMMMatchesNaiveOverRoundedOperands checks.)
    @Test func emulatingSetsGiveIdenticalBF16Products() throws {
        let emulating = InstructionSet.supported.filter { !$0.runsBF16Natively }
        var rng = TestRandom(seed: 11)
        let m = 29, n = 72, k = 1100
        let a = rng.floats(m * k), w = rng.floats(n * k), b = rng.floats(n)
        var outputs: [[Float]] = []
        for set in emulating {
            let kernels = try KernelTable(set, precision: .bf16)
            let linear = PackedLinear(weights: w, outputs: n, inputs: k, bias: b, kernels: kernels)
            var c = [Float](repeating: 0, count: m * n)
            kernels.packedGEMM(m: m, a: a, lda: k, linear, activation: .none, c: &c, ldc: n)
            outputs.append(c)
        }
        if emulating.count < 2 { print("note: one emulating kernel set here: nothing to compare") }
        for (set, c) in zip(emulating.dropFirst(), outputs.dropFirst()) { #expect(c == outputs[0], "\(set) vs \(emulating[0])") }
    }

    @Test func bf16WeightsTakeHalfTheMemory() throws {
        var rng = TestRandom(seed: 3)
        let n = 768, k = 3072
        let w = rng.floats(n * k)
        let fp32 = PackedLinear(weights: w, outputs: n, inputs: k, bias: nil, kernels: try KernelTable(.portable))
        let bf16 = PackedLinear(weights: w, outputs: n, inputs: k, bias: nil, kernels: try KernelTable(.portable, precision: .bf16))
        #expect(residentParameterBytes(of: fp32) == (n * k + n) * 4)
        #expect(residentParameterBytes(of: bf16) == n * k * 2 + n * 4)
    }

    /// What the CPU check finds is what the kernel reports in /proc/cpuinfo.
    @Test func cpuFeaturesAgreeWithProcCPUInfo() throws {
        guard let cpuinfo = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8),
              let flagsLine = cpuinfo.split(separator: "\n").first(where: { $0.hasPrefix("flags") }) else {
            print("note: no /proc/cpuinfo here: CPU features not cross-checked")
            return
        }
        let flags = Set(flagsLine.split(separator: ":")[1].split(separator: " ").map(String.init))
        let found = Set(CPUFeatures.current.description.split(separator: " ").map(String.init))
        for name in ["avx2", "fma", "avx512f", "avx512bw", "avx512vl", "avx512dq", "avx512_vnni", "avx512_bf16"] {
            #expect(found.contains(name) == flags.contains(name), "\(name): cpuid says \(found.contains(name)), /proc/cpuinfo \(flags.contains(name))")
        }
    }

    @Test func nativeBF16IsSaidPerSet() {
        // Neither set of this build has bf16 instructions: both emulate.
        for set in InstructionSet.supported { #expect(!set.runsBF16Natively, "\(set)") }
    }
}
