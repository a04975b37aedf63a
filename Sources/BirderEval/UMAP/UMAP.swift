import BirderCore
import Foundation

/// Settings of a UMAP embedding; the defaults are those Birder's AMI evaluation uses
/// (`umap.UMAP(n_neighbors=15, n_components=50, min_dist=0.0)`) and umap-learn's own.
public struct UMAPOptions: Sendable {
    public var nComponents: Int = 50
    public var nNeighbors: Int = 15
    public var minDist: Double = 0
    public var spread: Double = 1
    /// nil: umap-learn's choice, 500 epochs up to 10 000 points and 200 above.
    public var epochs: Int? = nil
    public var learningRate: Double = 1
    public var negativeSampleRate: Int = 5
    public var repulsionStrength: Double = 1
    public var seed: UInt64 = 0
    /// Threads for the layout (at most the context's); nil means the context's. With one thread the embedding
    /// repeats exactly for a seed; with more it varies slightly (lock-free updates, as
    /// umap-learn's parallel mode).
    public var layoutThreads: Int? = nil

    public init(nComponents: Int = 50, nNeighbors: Int = 15, minDist: Double = 0, seed: UInt64 = 0) {
        self.nComponents = nComponents
        self.nNeighbors = nNeighbors
        self.minDist = minDist
        self.seed = seed
    }
}

/// What an embedding run did, for logs and benchmarks.
public struct UMAPReport: Sendable {
    public var epochs: Int
    public var edges: Int
    public var connectedComponents: Int
    public var spectralIterations: Int
    public var spectralConverged: Bool
    /// Wall-clock seconds per stage: neighbours, graph, initialisation, layout.
    public var seconds: [String: Double]
}

/// Uniform Manifold Approximation and Projection, as umap-learn 0.5.12 computes it for Euclidean
/// data: exact k-nearest neighbours (umap-learn uses exact ones below 4 096 points and
/// NN-descent's approximate ones above), smooth k-NN distances, the fuzzy union graph, spectral
/// initialisation, the a/b curve fit and the negative-sampling SGD layout. Not bit-identical to
/// umap-learn (its random streams are its own, and it is not reproducible across machines either).
public enum UMAP {
    /// The embedding (row-major n × nComponents) of `points` (row-major n × d).
    public static func embed(points: [Float], n: Int, d: Int, nComponents: Int = 50, nNeighbors: Int = 15,
                             minDist: Double = 0, seed: UInt64 = 0, context: ComputeContext = .automatic) throws -> [Float] {
        try embed(points: points, n: n, d: d,
                  options: UMAPOptions(nComponents: nComponents, nNeighbors: nNeighbors, minDist: minDist, seed: seed),
                  context: context).embedding
    }

    public static func embed(points: [Float], n: Int, d: Int, options: UMAPOptions,
                             context: ComputeContext = .automatic) throws -> (embedding: [Float], report: UMAPReport) {
        try checkMatrix(points, n: n, d: d, name: "points")
        let dim = options.nComponents
        guard dim >= 1 else { throw EvaluationError.invalidParameter(name: "nComponents", reason: "\(dim) must be ≥ 1") }
        guard options.nNeighbors >= 2 else {
            throw EvaluationError.invalidParameter(name: "nNeighbors", reason: "\(options.nNeighbors) must be ≥ 2")
        }
        guard options.minDist >= 0, options.spread > 0, options.minDist <= options.spread else {
            throw EvaluationError.invalidParameter(name: "minDist", reason: "need 0 ≤ minDist ≤ spread")
        }
        // Two separate conditions, said separately: "need at least 2 points" for 20 points of 0
        // dimensions contradicted itself.
        guard n >= 2 else { throw EvaluationError.invalidParameter(name: "points", reason: "need at least 2 points, got \(n)") }
        guard d >= 1 else { throw EvaluationError.invalidParameter(name: "points", reason: "the \(n) points have 0 dimensions; need at least 1") }
        if let epochs = options.epochs, epochs < 1 {
            throw EvaluationError.invalidParameter(name: "epochs", reason: "\(epochs) must be ≥ 1")
        }
        var seconds = [String: Double]()
        var clock = Date()
        func lap(_ stage: String) {
            seconds[stage] = Date().timeIntervalSince(clock)
            clock = Date()
        }
        // umap-learn truncates n_neighbors to n − 1 on tiny data sets.
        let k = min(options.nNeighbors, n - 1)
        let neighbors = NearestNeighbors.exact(points: points, n: n, d: d, k: k, context: context)
        lap("neighbors")

        let (sigmas, rhos) = FuzzySimplicialSet.smoothDistances(neighbors, context: context)
        let graph = FuzzySimplicialSet.build(neighbors, sigmas: sigmas, rhos: rhos)
        let epochs = options.epochs ?? (n <= 10_000 ? 500 : 200)
        // Edges too weak to be sampled even once are dropped before the layout.
        let maxWeight = graph.values.max() ?? 0
        var keptRows = [Int32](), keptColumns = [Int32](), keptValues = [Float]()
        for i in 0..<n {
            for e in graph.rowStart[i]..<graph.rowStart[i + 1] where graph.values[e] >= maxWeight / Float(epochs) {
                keptRows.append(Int32(i)); keptColumns.append(graph.columns[e]); keptValues.append(graph.values[e])
            }
        }
        let layoutGraph = SparseMatrix(n: n, rows: keptRows, columns: keptColumns, values: keptValues)
        lap("graph")

        var random = SeededGenerator(seed: options.seed)
        let (components, _) = layoutGraph.connectedComponents()
        var spectralIterations = 0, spectralConverged = true
        var initial: [Double]
        if components == 1, let result = SpectralLayout.eigenvectors(graph: layoutGraph, dim: dim, random: &random, context: context) {
            initial = result.coordinates
            spectralIterations = result.iterations
            spectralConverged = result.converged
        } else {
            initial = SpectralLayout.layout(graph: layoutGraph, data: points, d: d, dim: dim, random: &random, context: context)
        }
        // noisy_scale_coords: largest |coordinate| 10, then N(0, 1e-4) noise; then every column
        // min–max scaled to [0, 10].
        let largest = initial.reduce(0) { max($0, abs($1)) }
        let expansion = largest > 0 ? 10 / largest : 1
        var embedding = initial.map { Float($0 * expansion) + Float(random.normal() * 1e-4) }
        for c in 0..<dim {
            var low = Float.infinity, high = -Float.infinity
            for i in 0..<n { low = min(low, embedding[i * dim + c]); high = max(high, embedding[i * dim + c]) }
            let range = high - low
            for i in 0..<n { embedding[i * dim + c] = range > 0 ? 10 * (embedding[i * dim + c] - low) / range : 0 }
        }
        lap("initialisation")

        let (a, b) = findABParameters(spread: options.spread, minDist: options.minDist)
        var head = [Int32](), tail = [Int32](), perSample = [Double]()
        head.reserveCapacity(layoutGraph.nonZeroCount)
        tail.reserveCapacity(layoutGraph.nonZeroCount)
        perSample.reserveCapacity(layoutGraph.nonZeroCount)
        let layoutMax = Double(layoutGraph.values.max() ?? 1)
        for i in 0..<n {
            for e in layoutGraph.rowStart[i]..<layoutGraph.rowStart[i + 1] {
                let samples = Double(epochs) * (Double(layoutGraph.values[e]) / layoutMax)
                guard samples > 0 else { continue }
                head.append(Int32(i))
                tail.append(layoutGraph.columns[e])
                perSample.append(Double(epochs) / samples)
            }
        }
        let optimizer = LayoutOptimizer(head: head, tail: tail, epochsPerSample: perSample, a: Float(a), b: Float(b),
                                        gamma: Float(options.repulsionStrength), initialAlpha: Float(options.learningRate),
                                        negativeSampleRate: Double(options.negativeSampleRate))
        optimizer.optimize(&embedding, n: n, dim: dim, epochs: epochs, seed: random.next(),
                           threads: options.layoutThreads ?? context.threads, context: context)
        lap("layout")
        let report = UMAPReport(epochs: epochs, edges: head.count, connectedComponents: components,
                                spectralIterations: spectralIterations, spectralConverged: spectralConverged, seconds: seconds)
        return (embedding, report)
    }
}
