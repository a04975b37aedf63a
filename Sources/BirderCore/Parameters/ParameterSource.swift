/// Named tensors a model is built from: a checkpoint's state dict, or a seeded generator for
/// benchmarks and parity tests. Models bind weights through `ParameterBinder`, which checks
/// every shape and that nothing is missing or left unused.
package protocol ParameterSource: Sendable {
    /// Every tensor name the source holds.
    var parameterNames: [String] { get }
    /// The stored shape of `name`, or nil when the source has no such tensor.
    func shape(of name: String) -> [Int]?
    /// The tensor `name` converted to Float32, contiguous, in its stored (PyTorch) layout.
    func float32Tensor(named name: String) throws -> Tensor
}
