import BirderCore

// The plumbing under RDNet's layers: NHWC feature maps with room for the channels still to come,
// per-worker scratch, and the chunked work loop.

/// An NHWC batch of feature maps stored as N·h·w pixel rows of `stride` floats. A dense stage's
/// map is allocated at its final width T up front; its first `channels` columns are filled so far.
struct FeatureMap {
    let storage: TensorStorage
    let batch: Int, height: Int, width: Int
    /// Floats per pixel (the stage's final width T).
    let stride: Int

    init(batch: Int, height: Int, width: Int, stride: Int) {
        self.batch = batch
        self.height = height
        self.width = width
        self.stride = stride
        storage = TensorStorage(count: batch * height * width * stride)
    }

    var pixels: Int { batch * height * width }
    var lines: Int { batch * height }
    var base: UnsafeMutablePointer<Float> { storage.baseAddress }
    /// Row of the first pixel of `line` (line = n·height + y).
    func row(line: Int) -> UnsafeMutablePointer<Float> { base + line * width * stride }

    /// The map as an N×C×h×w tensor (Birder's layout for detection features).
    func nchw() -> Tensor {
        nhwcToNCHW(Tensor(shape: [batch, height, width, stride], storage: storage))
    }
}

/// Scratch for one forward pass: per worker, a1 (R×a1Stride: the normalised input of a 1×1 conv),
/// a2 (R×a2Stride: the bottleneck activations) and the depthwise conv's row ring. Allocated per
/// call, so the model itself stays immutable and can serve several threads at once.
final class Workspace {
    let workers: Int
    let a1Stride: Int, a2Stride: Int, ringCount: Int, rows: Int
    private let a1: [TensorStorage], a2: [TensorStorage], ring: [TensorStorage]

    init(workers: Int, rows: Int, a1Stride: Int, a2Stride: Int, ringCount: Int) {
        self.workers = workers
        self.rows = rows
        self.a1Stride = a1Stride
        self.a2Stride = a2Stride
        self.ringCount = ringCount
        a1 = (0..<workers).map { _ in TensorStorage(count: rows * a1Stride) }
        a2 = (0..<workers).map { _ in TensorStorage(count: rows * a2Stride) }
        ring = (0..<workers).map { _ in TensorStorage(count: ringCount) }
    }

    func a1(_ worker: Int) -> UnsafeMutablePointer<Float> { a1[worker].baseAddress }
    func a2(_ worker: Int) -> UnsafeMutablePointer<Float> { a2[worker].baseAddress }
    func ring(_ worker: Int) -> UnsafeMutablePointer<Float> { ring[worker].baseAddress }
}

/// How the lines of one resolution are cut into work chunks: whole lines, about `targetRows`
/// pixels each (a chunk's a1/a2 then stay in L2/L3 between the three kernels of a block), but at
/// least two chunks per worker where there are enough lines, so the workers stay balanced.
struct ChunkPlan {
    let lines: Int, linesPerChunk: Int

    static let targetRows = 168

    init(lines: Int, width: Int, workers: Int) {
        self.lines = lines
        var perChunk = max(1, ChunkPlan.targetRows / width)
        let wanted = 2 * workers
        if (lines + perChunk - 1) / perChunk < wanted { perChunk = max(1, lines / wanted) }
        linesPerChunk = perChunk
    }

    var count: Int { (lines + linesPerChunk - 1) / linesPerChunk }
    func lines(of chunk: Int) -> Range<Int> {
        (chunk * linesPerChunk)..<min(lines, (chunk + 1) * linesPerChunk)
    }
}

extension TensorStorage {
    /// Read-only view for kernels (parameters are never written after loading).
    var constPointer: UnsafePointer<Float> { UnsafePointer(baseAddress) }
}
