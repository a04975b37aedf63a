import BirderCore

// The plumbing under convolutional networks' layers (RDNet today; any NHWC conv family can use
// it): feature maps with room for the channels still to come, per-worker scratch, the chunk plan
// of the work loop, and the channel LayerNorm.

/// Uninitialised, 64-byte aligned floats: every buffer of a forward pass is written before it is
/// read (each column of a stage buffer by exactly one layer), so zero-filling would only cost time.
final class RawBuffer: @unchecked Sendable {
    let base: UnsafeMutablePointer<Float>
    let count: Int

    init(count: Int) {
        let raw = UnsafeMutableRawPointer.allocate(byteCount: max(count, 1) * MemoryLayout<Float>.stride,
                                                   alignment: TensorStorage.alignment)
        base = raw.bindMemory(to: Float.self, capacity: max(count, 1))
        self.count = count
    }

    deinit { UnsafeMutableRawPointer(base).deallocate() }
}

/// An NHWC batch of feature maps stored as N·h·w pixel rows of `stride` floats. A dense stage's
/// map is allocated at its final width T up front; the layers fill its columns in order.
struct FeatureMap {
    let buffer: RawBuffer
    let batch: Int, height: Int, width: Int
    /// Floats per pixel (the stage's final width T).
    let stride: Int

    init(batch: Int, height: Int, width: Int, stride: Int) {
        self.batch = batch
        self.height = height
        self.width = width
        self.stride = stride
        buffer = RawBuffer(count: batch * height * width * stride)
    }

    var pixels: Int { batch * height * width }
    var lines: Int { batch * height }
    var base: UnsafeMutablePointer<Float> { buffer.base }
    /// Row of the first pixel of `line` (line = n·height + y).
    func row(line: Int) -> UnsafeMutablePointer<Float> { base + line * width * stride }

    /// The map as an N×C×h×w tensor (Birder's layout for detection features).
    func nchw() -> Tensor {
        let view = TensorStorage(borrowing: buffer.base, count: buffer.count, owner: buffer)
        return nhwcToNCHW(Tensor(shape: [batch, height, width, stride], storage: view))
    }
}

/// Scratch for one forward pass: per worker, a1 (R×stride(C): e.g. the normalised input of a 1×1
/// conv), a2 (R×stride(I): e.g. bottleneck activations) and a depthwise conv's row ring.
/// Allocated per call, so the model itself stays immutable and can serve several threads at once.
///
/// Each layer lays its a1/a2 rows out at its own width (`rowStride`), not at the widest layer's:
/// a chunk's rows are then dense, and the GEMMs stream fewer pages and cache lines (2 % of a
/// 2-thread rdnet_t pass against one stride for all layers).
final class Workspace {
    let workers: Int
    private let a1: [RawBuffer], a2: [RawBuffer]
    private let rings: [DepthwiseScratch]
    private var layers = 0

    /// Floats between rows of a `columns`-wide scratch matrix: rounded up to 16 keeps every row
    /// 64-byte aligned (and covers the depthwise conv's writes up to `columns` rounded to 8).
    static func rowStride(_ columns: Int) -> Int { (columns + 15) / 16 * 16 }

    /// `a1Count`/`a2Count`: floats each worker's a1/a2 must hold (the largest rows × stride).
    init(workers: Int, a1Count: Int, a2Count: Int, ringCount: Int) {
        self.workers = workers
        a1 = (0..<workers).map { _ in RawBuffer(count: a1Count) }
        a2 = (0..<workers).map { _ in RawBuffer(count: a2Count) }
        rings = (0..<workers).map { _ in DepthwiseScratch(count: ringCount) }
    }

    func a1(_ worker: Int) -> UnsafeMutablePointer<Float> { a1[worker].base }
    func a2(_ worker: Int) -> UnsafeMutablePointer<Float> { a2[worker].base }
    func ring(_ worker: Int) -> DepthwiseScratch { rings[worker] }

    /// A new token for a depthwise layer call (the rings re-initialise when it changes). Called
    /// between parallel regions, on the thread that runs the pass.
    func nextLayer() -> Int {
        layers += 1
        return layers
    }
}

/// How the lines of one resolution are cut into work chunks: whole lines, at most about
/// `targetRows` pixels each (a chunk's a1/a2 then stay in L2/L3 between the three kernels of a
/// block). Where that gives fewer than two chunks per worker, chunks shrink to balance the workers,
/// but not below about `minimumRows` pixels (a GEMM on a handful of rows wastes most of its 6-row
/// tiles). Chunks differ by at most one line and their count is a multiple of the workers (where
/// there are enough lines): with a block's work split 10 ways over 2 workers as 9 full chunks and
/// a sliver, one worker idled for most of a chunk at every layer (4 % of a 2-thread pass).
struct ChunkPlan {
    let lines: Int, count: Int

    static let targetRows = 168
    static let minimumRows = 48

    init(lines: Int, width: Int, workers: Int) {
        func ceil(_ a: Int, _ b: Int) -> Int { (a + b - 1) / b }
        self.lines = lines
        let workers = max(1, workers)
        var count = ceil(lines, max(1, ChunkPlan.targetRows / width))
        if count < 2 * workers {
            let smallest = min(ceil(ChunkPlan.minimumRows, width), ceil(lines, workers))
            count = max(count, min(2 * workers, lines / max(1, smallest)))
        }
        self.count = max(1, min(lines, ceil(count, workers) * workers))
    }

    /// The most lines any chunk has (what per-worker scratch must hold).
    var linesPerChunk: Int { (lines + count - 1) / count }
    func lines(of chunk: Int) -> Range<Int> {
        (lines * chunk / count)..<(lines * (chunk + 1) / count)
    }
}

/// LayerNorm over channels (LayerNorm2d in NHWC).
struct ChannelNorm {
    let channels: Int
    let weight: TensorStorage, bias: TensorStorage
    let epsilon: Float

    init(_ binder: ParameterBinder, channels: Int, epsilon: Float) throws {
        self.channels = channels
        weight = try binder.tensor("weight", shape: [channels]).storage
        bias = try binder.tensor("bias", shape: [channels]).storage
        self.epsilon = epsilon
    }

    /// rows×channels from `input` (row stride `inputStride`) to `output` (row stride `outputStride`).
    func callAsFunction(_ input: UnsafePointer<Float>, rows: Int, inputStride: Int,
                        into output: UnsafeMutablePointer<Float>, outputStride: Int, kernels: KernelTable) {
        kernels.layerNormRows(input, rows: rows, columns: channels, inputStride: inputStride,
                              weight: weight.constPointer, bias: bias.constPointer, epsilon: epsilon,
                              output: output, outputStride: outputStride)
    }
}

extension TensorStorage {
    /// Read-only view for kernels (parameters are never written after loading).
    var constPointer: UnsafePointer<Float> { UnsafePointer(baseAddress) }
}
