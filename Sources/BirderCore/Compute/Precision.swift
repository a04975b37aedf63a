/// The precision of a model's products (its linear layers and convolutions).
///
/// - fp32: Float32 throughout; outputs equal Birder's within 1e-4.
/// - bf16: the weights of every linear layer and dense convolution (1×1, patch, stem, transition)
///   stored as bfloat16 (half the memory), their inputs rounded to bfloat16 (to nearest, ties to
///   even) and the products summed in Float32. LayerNorm, softmax, GELU, attention's own products,
///   pooling, the classifier heads and RDNet's depthwise 7×7 convolution stay Float32: the
///   depthwise one runs on Float32 FMAs in every kernel set (it has no reduction over channels for
///   bf16 dot products to pair), so rounding its input would only add error (on rdnet_t it brought
///   the error up to autocast's). Close to PyTorch's `torch.autocast("cpu", dtype=torch.bfloat16)`,
///   which also rounds the depthwise convolution and each product's output to bfloat16. Runs on the CPU's bf16 instructions
///   where the kernel set has them (`InstructionSet.runsBF16Natively`), else emulated with Float32
///   arithmetic: the same results within the summation order, not faster than fp32.
public enum Precision: String, CaseIterable, Sendable, CustomStringConvertible {
    case fp32
    case bf16

    public var description: String { rawValue }
}
