/// The precision of a model's products (its linear layers and convolutions).
///
/// - fp32: Float32 throughout; outputs equal Birder's within 1e-4.
/// - bf16: weights stored as bfloat16 (half the memory), the inputs of every GEMM and convolution
///   rounded to bfloat16 (to nearest, ties to even) and their products summed in Float32;
///   LayerNorm, softmax, GELU, attention's own products, pooling and the classifier heads stay
///   Float32. Close to PyTorch's `torch.autocast("cpu", dtype=torch.bfloat16)`, which also rounds
///   each product's output to bfloat16 (this mode does not). Runs on the CPU's bf16 instructions
///   where the kernel set has them (`InstructionSet.runsBF16Natively`), else emulated with Float32
///   arithmetic: the same results within the summation order, not faster than fp32.
public enum Precision: String, CaseIterable, Sendable, CustomStringConvertible {
    case fp32
    case bf16

    public var description: String { rawValue }
}
