import Birder

/// A numeric option's documented range: `--help` states it and `check` refuses a value outside it
/// as a usage error (`error: …`, exit status 2) before any work or allocation, so an absurd value
/// is never passed on to overflow or exhaust memory.
struct OptionRange {
    let option: String
    let range: ClosedRange<Int>

    /// The range as `--help` states it, e.g. `1…1024`.
    var text: String { "\(range.lowerBound)…\(range.upperBound)" }

    func check(_ value: Int?) throws {
        guard let value, !range.contains(value) else { return }
        throw CLIError.usage("\(option) \(value) is out of range \(text)")
    }

    /// Threads one model call may use: ComputeContext refuses more.
    static let threads = OptionRange(option: "--threads", range: 1...ComputeContext.maximumThreads)
    /// Images per forward pass of predict, embed and features (the session's own bound).
    static let batchSize = OptionRange(option: "--batch-size", range: 1...InferenceSession.maximumBatchSize)
    static let embedBatchSize = OptionRange(option: "--embed-batch-size", range: batchSize.range)
    /// Classes to report: no upper bound, a value above a head's classes gives all of them.
    static let topK = OptionRange(option: "--top-k", range: 1...Int.max)
    /// bench: a random batch of this many images is allocated with all its activations.
    static let benchBatchSize = OptionRange(option: "--batch-size", range: 1...256)
    /// bench: each side of the random input; a ViT's attention grows with the fourth power of it.
    static let benchSide = OptionRange(option: "--size", range: 16...2048)
    /// predict/embed --size: each side of the inference resolution (a ViT's attention grows with
    /// the fourth power of it; the batch buffer with the square).
    static let inputSide = OptionRange(option: "--size", range: 16...2048)
    static let benchIterations = OptionRange(option: "--iterations", range: 1...100_000)
}
