// RDNet, "DenseNets Reloaded" (Kim et al. 2024), as Birder 0.8.4 builds it (birder/net/rdnet.py):
// inference on the CPU, NHWC, weights bound by their state-dict names.
//
// Shape legend
//   N      images in the batch                 H×W  input size (multiples of 32)
//   h×w    feature-map size at the current stride (H/4×W/4 in stage 1, halved by each downsampling)
//   P      N·h·w pixels: the rows of every NHWC matrix below
//   F      channels entering a dense stage     g    growth: channels one block adds
//   C      F + i·g channels entering block i   I    int(C·4/8)·8, the block's bottleneck width
//   T      F + blocks·g: channels leaving a dense stage (its buffer's width)
//   R      rows of one work chunk (whole lines of one resolution, about 168 pixels)
//   K      classes of the classifier
//
// The network (rdnet_t at 224; other configs change the widths and the number of dense stages):
//
//   image                                                   N×224×224×3
//   Stem: conv 4×4 stride 4 → LayerNorm2d                   N×56×56×64
//   stage1: DenseStage(g 64, 3 blocks)                      N×56×56×256
//   stage2: Transition(2×2/2) → DenseStage(g 104)           N×28×28×440
//   stage3: Transition(2×2/2) → DenseStage ESE(g 128)       N×14×14×600
//           Transition(1×1) → DenseStage ESE(g 128)  ×3     N×14×14×744
//   stage4: Transition(2×2/2) → DenseStage ESE(g 224)       N×7×7×1040
//   embedding: mean over h·w → LayerNorm (eps 1e-5)         N×1040
//   classifier: Linear(1040, K) → softmax                   N×K
//
// A dense stage concatenates every block's output onto its input. Here that concatenation costs
// nothing: the stage owns one P×T buffer, its input sits in the first F columns, and block i
// reads the first C = F + i·g columns (row stride T) and writes its g new columns in place:
//
//   DenseBlock (C → g):
//     x        P×C   columns 0..<C of the stage buffer
//     a1       R×C   depthwise 7×7 (pad 3, bias) → LayerNorm2d (eps 1e-6)    one pass per line
//     a2       R×I   1×1 conv C→I (bias) → GELU (erf)                        GEMM, fused epilogue
//     new      P×g   1×1 conv I→g (bias) → columns C..<C+g                   GEMM, ldc = T
//     [ESE]    P×g   × hardsigmoid(fc(mean over h·w))                        per image, after all rows
//              P×g   × gamma (folded into the 1×1 conv's weights and bias when there is no ESE)
//
// Work is cut into chunks of whole lines; a worker takes a chunk through all three kernels of a
// block while its a1/a2 are still in cache. Every call allocates its own buffers and scratch.

import BirderCore

/// stem: conv 4×4 stride 4 (bias) → LayerNorm2d (eps 1e-6). Non-overlapping patches, so the conv
/// is one GEMM over (ky, kx, c)-ordered patch rows.
struct Stem {
    let channels: Int
    let conv: PackedLinear     // channels × (4·4·3)
    let norm: ChannelNorm

    init(_ binder: ParameterBinder, channels: Int, kernels: KernelTable) throws {
        self.channels = channels
        let weight = try binder.scope("0").tensor("weight", shape: [channels, 3, 4, 4])
        let bias = try binder.scope("0").tensor("bias", shape: [channels])
        conv = PackedLinear(weight: convWeightToPatchOrder(weight), bias: bias, kernels: kernels)
        norm = try ChannelNorm(binder.scope("1"), channels: channels, epsilon: 1e-6)
    }

    /// image N×H×W×3 → out[:, :, :, 0..<channels] (N×H/4×W/4).
    func callAsFunction(_ image: UnsafePointer<Float>, into out: FeatureMap, workspace: Workspace, context: ComputeContext) {
        let inWidth = out.width * 4
        let plan = ChunkPlan(lines: out.lines, width: out.width, workers: workspace.workers)
        let kernels = context.kernels
        context.forEachChunk(plan.count) { worker, chunk in
            let lines = plan.lines(of: chunk)
            let rows = lines.count * out.width
            let patches = workspace.a1(worker), lda = Workspace.rowStride(conv.inputs)   // R×48
            for (l, line) in lines.enumerated() {
                for x in 0..<out.width {
                    let patch = patches + (l * out.width + x) * lda
                    for ky in 0..<4 {
                        // 4 pixels × 3 channels of input line 4·y + ky, contiguous in NHWC.
                        let src = image + ((line * 4 + ky) * inWidth + x * 4) * 3
                        (patch + ky * 12).update(from: src, count: 12)
                    }
                }
            }
            let y = out.row(line: lines.lowerBound)                       // R×channels, ldc T
            kernels.packedGEMM(m: rows, a: patches, lda: lda, conv, c: y, ldc: out.stride)
            norm(y, rows: rows, inputStride: out.stride, into: y, outputStride: out.stride, kernels: kernels)
        }
    }
}

/// Transition between dense stages: LayerNorm2d (eps 1e-6) → conv to int(F·ratio/8)·8 channels,
/// 1×1 or (downsampling) 2×2 stride 2.
struct Transition {
    let inputs: Int, outputs: Int, stride: Int
    let norm: ChannelNorm
    let conv: PackedLinear     // outputs × (stride²·inputs), (ky, kx, c) order

    init(normBinder: ParameterBinder, convBinder: ParameterBinder, inputs: Int, outputs: Int, downsample: Bool,
         kernels: KernelTable) throws {
        self.inputs = inputs
        self.outputs = outputs
        stride = downsample ? 2 : 1
        norm = try ChannelNorm(normBinder, channels: inputs, epsilon: 1e-6)
        let weight = try convBinder.tensor("weight", shape: [outputs, inputs, stride, stride])
        let bias = try convBinder.tensor("bias", shape: [outputs])
        conv = PackedLinear(weight: downsample ? convWeightToPatchOrder(weight) : weight, bias: bias, kernels: kernels)
    }

    /// x N×h×w×F (its first F columns) → out[:, :, :, 0..<outputs] (N×h/s×w/s).
    func callAsFunction(_ x: FeatureMap, into out: FeatureMap, workspace: Workspace, context: ComputeContext) {
        let plan = ChunkPlan(lines: out.lines, width: out.width, workers: workspace.workers)
        let kernels = context.kernels
        context.forEachChunk(plan.count) { worker, chunk in
            let lines = plan.lines(of: chunk)
            let rows = lines.count * out.width
            let a = workspace.a1(worker)                                  // R×(s²·F)
            let lda = Workspace.rowStride(conv.inputs)
            if stride == 1 {
                norm(x.row(line: lines.lowerBound), rows: rows, inputStride: x.stride, into: a, outputStride: lda,
                     kernels: kernels)
            } else {
                for (l, line) in lines.enumerated() {
                    // Output line y of image n reads input lines 2y and 2y+1: each input pixel is
                    // normalised straight into its slot (ky·2 + kx)·F of its patch row.
                    let n = line / out.height, y = line % out.height
                    for ky in 0..<2 {
                        let src = x.row(line: n * x.height + 2 * y + ky)
                        for kx in 0..<2 {
                            norm(src + kx * x.stride, rows: out.width, inputStride: 2 * x.stride,
                                 into: a + l * out.width * lda + (ky * 2 + kx) * inputs, outputStride: lda,
                                 kernels: kernels)
                        }
                    }
                }
            }
            kernels.packedGEMM(m: rows, a: a, lda: lda, conv, c: out.row(line: lines.lowerBound), ldc: out.stride)
        }
    }
}

/// Effective squeeze-excitation: x · hardsigmoid(fc(mean over h·w of x)), per image; here fused
/// with the block's layer scale (x · (gate ⊙ gamma)).
struct ESE {
    let channels: Int
    let fcWeight: TensorStorage  // g×g
    let fcBias: TensorStorage    // g
    let gamma: TensorStorage     // g

    /// Scales columns `offset..<offset+channels` of every pixel of `map`, image by image.
    func callAsFunction(_ map: FeatureMap, columns offset: Int, context: ComputeContext) {
        let g = channels, pixels = map.height * map.width
        let kernels = context.kernels
        context.forEachChunk(map.batch) { _, n in
            withUnsafeTemporaryAllocation(of: Float.self, capacity: 2 * g) { scratch in
                let mean = scratch.baseAddress!, scale = mean + g                    // g, g
                let x = map.base + n * pixels * map.stride + offset                  // (h·w)×g, row stride T
                mean.update(repeating: 0, count: g)
                for p in 0..<pixels {
                    let row = x + p * map.stride
                    for c in 0..<g { mean[c] += row[c] }
                }
                for c in 0..<g { mean[c] /= Float(pixels) }
                let w = fcWeight.baseAddress, b = fcBias.baseAddress, gm = gamma.baseAddress
                for j in 0..<g {
                    var t = b[j]
                    for c in 0..<g { t += w[j * g + c] * mean[c] }
                    scale[j] = min(max(t + 3, 0), 6) / 6 * gm[j]                      // hardsigmoid · gamma
                }
                kernels.scaleColumns(x, rows: pixels, columns: g, stride: map.stride, scale: scale)
            }
        }
    }
}

/// One dense block (C → g); see the diagram at the top of the file.
struct DenseBlock {
    let inputs: Int, growth: Int, bottleneck: Int
    let depthwise: DepthwiseConv7
    let norm: ChannelNorm
    let expand: PackedLinear    // I×C, bias
    let project: PackedLinear   // g×I, bias; × gamma folded in when there is no ESE
    let ese: ESE?

    init(_ binder: ParameterBinder, inputs: Int, growth: Int, withESE: Bool, kernels: KernelTable) throws {
        self.inputs = inputs
        self.growth = growth
        bottleneck = RDNetConfig.bottleneck(inputs)
        let layers = binder.scope("layers")
        let gamma = try binder.tensor("gamma", shape: [growth])
        depthwise = DepthwiseConv7(weight: try layers.scope("0").tensor("weight", shape: [inputs, 1, 7, 7]),
                                   bias: try layers.scope("0").tensor("bias", shape: [inputs]), kernels: kernels)
        norm = try ChannelNorm(layers.scope("1"), channels: inputs, epsilon: 1e-6)
        expand = PackedLinear(weight: try layers.scope("2").tensor("weight", shape: [bottleneck, inputs, 1, 1]),
                              bias: try layers.scope("2").tensor("bias", shape: [bottleneck]), kernels: kernels)
        var projectWeight = try layers.scope("4").tensor("weight", shape: [growth, bottleneck, 1, 1])
        var projectBias = try layers.scope("4").tensor("bias", shape: [growth])
        if withESE {
            let fc = layers.scope("5").scope("fc")
            ese = ESE(channels: growth,
                      fcWeight: try fc.tensor("weight", shape: [growth, growth, 1, 1]).storage,
                      fcBias: try fc.tensor("bias", shape: [growth]).storage,
                      gamma: gamma.storage)
        } else {
            // gamma·(W·x + b) = (gamma·W)·x + gamma·b: the layer scale costs nothing at run time.
            let gm = gamma.storage.baseAddress, k = bottleneck
            projectWeight.withUnsafeMutableBufferPointer { w in
                for j in 0..<growth { for p in 0..<k { w[j * k + p] *= gm[j] } }
            }
            projectBias.withUnsafeMutableBufferPointer { b in
                for j in 0..<growth { b[j] *= gm[j] }
            }
            ese = nil
        }
        project = PackedLinear(weight: projectWeight, bias: projectBias, kernels: kernels)
    }

    /// Reads columns 0..<C of `map`, writes columns C..<C+g.
    func callAsFunction(_ map: FeatureMap, workspace: Workspace, context: ComputeContext) {
        let plan = ChunkPlan(lines: map.lines, width: map.width, workers: workspace.workers)
        let layer = workspace.nextLayer()
        let kernels = context.kernels
        context.forEachChunk(plan.count) { worker, chunk in
            let lines = plan.lines(of: chunk)
            let rows = lines.count * map.width
            let a1 = workspace.a1(worker), a2 = workspace.a2(worker)
            let a1Stride = Workspace.rowStride(inputs), a2Stride = Workspace.rowStride(bottleneck)
            depthwise.convolveLayerNorm(                                                // a1: R×C
                input: map.base, height: map.height, width: map.width, pixelStride: map.stride, lines: lines,
                normWeight: norm.weight.constPointer, normBias: norm.bias.constPointer, epsilon: norm.epsilon,
                output: a1, outputStride: a1Stride, scratch: workspace.ring(worker), layer: layer, kernels: kernels)
            kernels.packedGEMM(m: rows, a: a1, lda: a1Stride, expand, activation: .gelu,           // a2: R×I
                       c: a2, ldc: a2Stride)
            kernels.packedGEMM(m: rows, a: a2, lda: a2Stride, project,                             // new: R×g
                       c: map.row(line: lines.lowerBound) + inputs, ldc: map.stride)
        }
        ese?(map, columns: inputs, context: context)                                       // P×g
    }
}

/// A dense stage (birder's DenseStage), with the transition that feeds it (none for the first).
struct DenseStage {
    let transition: Transition?
    let inputs: Int, growth: Int, outputs: Int
    let blocks: [DenseBlock]

    /// F → T in place on `map` (whose stride is T).
    func callAsFunction(_ map: FeatureMap, workspace: Workspace, context: ComputeContext) {
        for block in blocks { block(map, workspace: workspace, context: context) }
    }
}

/// Birder's network for RDNet configs: see the diagram at the top of the file.
package final class RDNet: ImageEncoder {
    package let config: RDNetConfig
    package var network: String { config.name }
    package let embeddingSize: Int
    package var inputMultiple: Int { 32 }
    package let stageNames: [String]
    package let classifier: LinearClassifier?
    /// The kernel layout the weights were packed for.
    package let packedFor: KernelTable

    let stem: Stem
    /// Named stages (stage1, stage2, …: the body is cut at each downsampling), each a run of
    /// dense stages.
    let stages: [(name: String, denseStages: [DenseStage])]
    let finalNorm: ChannelNorm

    /// Birder returns these stages from `detection_features`.
    static let returnStages = ["stage1", "stage2", "stage3", "stage4"]

    /// Builds the network from `binder` (strict: every tensor of the source must be used, with
    /// its exact shape). The classifier (`classifier.weight`/`.bias`) is bound when the source has
    /// one; `numClasses` then must match it if given. With a seeded binder, `numClasses` > 0 adds a
    /// seeded classifier.
    package init(config: RDNetConfig, binder: ParameterBinder, numClasses: Int? = nil, kernels: KernelTable) throws {
        try config.validate()
        self.config = config
        packedFor = kernels
        stem = try Stem(binder.scope("stem"), channels: config.numInitFeatures, kernels: kernels)

        // Mirrors RDNet.__init__: a transition (LayerNorm2d, conv) precedes every dense stage but
        // the first; a downsampling one also starts a new named stage. Modules are numbered in
        // their named stage's nn.Sequential in order.
        let body = binder.scope("body")
        var named: [(String, [DenseStage])] = []
        var current: [DenseStage] = []
        var position = 0
        var features = config.numInitFeatures
        for i in 0..<config.growthRates.count {
            var transition: Transition?
            if i > 0 {
                let compressed = RDNetConfig.compressed(features, ratio: config.transitionCompressionRatio)
                let downsample = config.isDownsampleBlock[i]
                if downsample {
                    named.append(("stage\(named.count + 1)", current))
                    current = []
                    position = 0
                }
                let scope = body.scope("stage\(named.count + 1)")
                transition = try Transition(normBinder: scope.scope(position), convBinder: scope.scope(position + 1),
                                            inputs: features, outputs: compressed, downsample: downsample,
                                            kernels: kernels)
                position += 2
                features = compressed
            }
            let scope = body.scope("stage\(named.count + 1)").scope(position).scope("layers")
            let growth = config.growthRates[i]
            let blocks = try (0..<config.numBlocksList[i]).map { b in
                try DenseBlock(scope.scope(b), inputs: features + b * growth, growth: growth,
                               withESE: config.blockTypeName[i] == "BlockESE", kernels: kernels)
            }
            position += 1
            let outputs = features + config.numBlocksList[i] * growth
            current.append(DenseStage(transition: transition, inputs: features, growth: growth, outputs: outputs,
                                      blocks: blocks))
            features = outputs
        }
        named.append(("stage\(named.count + 1)", current))
        stages = named
        stageNames = named.map(\.0).filter { RDNet.returnStages.contains($0) }
        embeddingSize = features
        finalNorm = try ChannelNorm(binder.scope("features").scope("1"), channels: features, epsilon: 1e-5)
        classifier = try LinearClassifier.bind(binder.scope("classifier"), network: config.name, inputs: features,
                                               numClasses: numClasses, hasBias: config.headBias)
        try binder.finish()
    }

    // MARK: Forward

    /// Runs stem and body; `visit(name, map)` sees each named stage's output as it completes.
    private func body(_ batch: Tensor, context: ComputeContext, visit: (String, FeatureMap) -> Void) throws -> FeatureMap {
        try validateInput(batch, context: context)
        let n = batch.shape[0], height = batch.shape[1], width = batch.shape[2]
        let workspace = makeWorkspace(batch: n, height: height, width: width, context: context)
        var h = height / 4, w = width / 4
        var map = FeatureMap(batch: n, height: h, width: w, stride: stages[0].denseStages[0].outputs)  // N×h×w×T
        batch.withUnsafeBufferPointer { image in
            stem(image.baseAddress!, into: map, workspace: workspace, context: context)                                   // [..F0]
        }
        for stage in stages {
            for dense in stage.denseStages {
                if let transition = dense.transition {
                    if transition.stride == 2 { h /= 2; w /= 2 }
                    let next = FeatureMap(batch: n, height: h, width: w, stride: dense.outputs)        // N×h×w×T
                    transition(map, into: next, workspace: workspace, context: context)                                   // [..F]
                    map = next
                }
                dense(map, workspace: workspace, context: context)                                  // [..T]
            }
            visit(stage.name, map)
        }
        return map
    }

    /// Sizes the per-worker scratch for this input: for every layer, its largest chunk times
    /// its a1/a2 row stride, and the largest depthwise ring.
    private func makeWorkspace(batch n: Int, height: Int, width: Int, context: ComputeContext) -> Workspace {
        let workers = context.threads
        var h = height / 4, w = width / 4
        func chunkRows() -> Int { ChunkPlan(lines: n * h, width: w, workers: workers).linesPerChunk * w }
        var a1 = chunkRows() * Workspace.rowStride(stem.conv.inputs), a2 = 0, ring = 0
        for stage in stages {
            for dense in stage.denseStages {
                if let t = dense.transition {
                    if t.stride == 2 { h /= 2; w /= 2 }
                    a1 = max(a1, chunkRows() * Workspace.rowStride(t.conv.inputs))
                }
                for block in dense.blocks {
                    a1 = max(a1, chunkRows() * Workspace.rowStride(block.inputs))
                    a2 = max(a2, chunkRows() * Workspace.rowStride(block.bottleneck))
                    ring = max(ring, block.depthwise.scratchCount(width: w, kernels: context.kernels))
                }
            }
        }
        return Workspace(workers: workers, a1Count: a1, a2Count: a2, ringCount: ring)
    }

    /// N×embeddingSize: global average pool → LayerNorm (eps 1e-5), Birder's `embedding()`.
    package func embedding(_ batch: Tensor, context: ComputeContext) throws -> Tensor {
        try pooledEmbedding(body(batch, context: context) { _, _ in }, context: context)
    }

    /// Stage name → N×C×h×w (NCHW, as Birder returns them) for stage1…stage4.
    package func detectionFeatures(_ batch: Tensor, context: ComputeContext) throws -> [(name: String, features: Tensor)] {
        try embeddingAndDetectionFeatures(batch, embedding: false, context: context).features
    }

    /// Both outputs from one pass through the network (`embedding` false skips the pooling).
    package func embeddingAndDetectionFeatures(_ batch: Tensor, embedding: Bool = true, context: ComputeContext) throws
        -> (embedding: Tensor?, features: [(name: String, features: Tensor)]) {
        var maps: [(String, FeatureMap)] = []
        let final = try body(batch, context: context) { name, map in
            if RDNet.returnStages.contains(name) { maps.append((name, map)) }
        }
        return (embedding ? pooledEmbedding(final, context: context) : nil, maps.map { ($0.0, $0.1.nchw()) })
    }

    private func pooledEmbedding(_ map: FeatureMap, context: ComputeContext) -> Tensor {
        let n = map.batch, t = map.stride
        var pooled = Tensor(zeros: [n, t])                                           // N×T
        pooled.withUnsafeMutableBufferPointer { out in
            meanPoolNHWC(map.base, batch: n, pixels: map.height * map.width, channels: t, output: out.baseAddress!)
            finalNorm(out.baseAddress!, rows: n, inputStride: t, into: out.baseAddress!, outputStride: t,
                      kernels: context.kernels)
        }
        return pooled
    }

    /// N×K class probabilities from the checkpoint's classifier.
    package func probabilities(_ batch: Tensor, context: ComputeContext) throws -> Tensor {
        guard let classifier else {
            throw WeightBindingError.invalidConfig("\(network): the weights have no classifier; load a head")
        }
        return try classifier.probabilities(embedding(batch, context: context), context: context)
    }
}
