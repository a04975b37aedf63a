import BirderTestSupport
import Foundation
import Testing
@testable import BirderEval

/// Runs the clustering pipeline on the data tools/bench/bench_eval.py writes, when
/// BIRDER_EVAL_BENCH names its folder (embeddings.f32, labels.i32, shape.txt); otherwise it
/// does nothing. For timings build optimised:
///   BIRDER_EVAL_BENCH=/tmp/evalbench swift test -c release -Xswiftc -enable-testing --filter ClusteringBenchmark
@Suite struct ClusteringBenchmark {
    @Test(.enabled(if: ProcessInfo.processInfo.environment["BIRDER_EVAL_BENCH"] != nil))
    func pipelineOnBenchmarkData() throws {
        let environment = ProcessInfo.processInfo.environment
        let folder = URL(fileURLWithPath: environment["BIRDER_EVAL_BENCH"]!)
        let seed = UInt64(environment["BIRDER_EVAL_BENCH_SEED"] ?? "0") ?? 0
        let shape = try String(contentsOf: folder.appendingPathComponent("shape.txt"), encoding: .utf8)
            .split(separator: " ").compactMap { Int($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
        let (n, d) = (shape[0], shape[1])
        let start = Date()
        let raw = try Data(contentsOf: folder.appendingPathComponent("embeddings.f32"))
        let embeddings = raw.withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }
        let labelData = try Data(contentsOf: folder.appendingPathComponent("labels.i32"))
        let labels = labelData.withUnsafeBytes { $0.bindMemory(to: Int32.self).map(Int.init) }
        #expect(embeddings.count == n * d && labels.count == n)
        let loaded = Date()
        let result = try ClusteringEvaluation.evaluate(embeddings: embeddings, n: n, d: d, labels: labels, seed: seed)
        if environment["BIRDER_EVAL_SAVE_UMAP"] != nil {
            // The 50-d embedding, for Ward-only runs (BIRDER_EVAL_WARD).
            let embedding = try UMAP.embed(points: ClusteringEvaluation.normaliseRows(embeddings, n: n, d: d), n: n, d: d, seed: seed)
            try embedding.withUnsafeBufferPointer { Data(buffer: $0) }.write(to: folder.appendingPathComponent("umap50.f32"))
        }
        let total = Date().timeIntervalSince(loaded)
        print("load \(String(format: "%.2f", loaded.timeIntervalSince(start))) s; pipeline \(String(format: "%.2f", total)) s; stages \(result.seconds); umap \(result.umap.seconds); epochs \(result.umap.epochs) edges \(result.umap.edges) components \(result.umap.connectedComponents) spectral iterations \(result.umap.spectralIterations) converged \(result.umap.spectralConverged)")
        print("AMI \(result.ami)")
        #expect(result.ami > 0)
    }

    /// Ward alone on a raw float32 file: BIRDER_EVAL_WARD="path n d k".
    @Test(.enabled(if: ProcessInfo.processInfo.environment["BIRDER_EVAL_WARD"] != nil))
    func wardOnRawPoints() throws {
        let fields = ProcessInfo.processInfo.environment["BIRDER_EVAL_WARD"]!.split(separator: " ").map(String.init)
        let (n, d, k) = (Int(fields[1])!, Int(fields[2])!, Int(fields[3])!)
        let raw = try Data(contentsOf: URL(fileURLWithPath: fields[0]))
        let points = raw.withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }
        #expect(points.count == n * d)
        let start = Date()
        let labels = try Ward.cluster(points: points, n: n, d: d, k: k)
        print("Ward \(n) × \(d) → \(k) clusters: \(String(format: "%.2f", Date().timeIntervalSince(start))) s")
        #expect(Set(labels).count == k)
    }

    /// The spectral initialisation alone on a graph dumped as raw COO files in the folder
    /// BIRDER_EVAL_SPECTRAL names (graph_rows.i32, graph_cols.i32, graph_vals.f32, shape.txt).
    @Test(.enabled(if: ProcessInfo.processInfo.environment["BIRDER_EVAL_SPECTRAL"] != nil))
    func spectralOnRawGraph() throws {
        let folder = URL(fileURLWithPath: ProcessInfo.processInfo.environment["BIRDER_EVAL_SPECTRAL"]!)
        let n = Int(try String(contentsOf: folder.appendingPathComponent("shape.txt"), encoding: .utf8).split(separator: " ")[0])!
        func load<T>(_ name: String, _ type: T.Type) throws -> [T] {
            let data = try Data(contentsOf: folder.appendingPathComponent(name))
            return data.withUnsafeBytes { Array($0.bindMemory(to: T.self)) }
        }
        let graph = SparseMatrix(n: n, rows: try load("graph_rows.i32", Int32.self), columns: try load("graph_cols.i32", Int32.self),
                                 values: try load("graph_vals.f32", Float.self))
        var random = SeededGenerator(seed: 0)
        let start = Date()
        let result = try #require(SpectralLayout.eigenvectors(graph: graph, dim: 50, random: &random, context: testContext))
        print("spectral \(n) nodes, \(graph.nonZeroCount) edges: \(String(format: "%.2f", Date().timeIntervalSince(start))) s, \(result.iterations) iterations, converged \(result.converged), λ2 \(result.values[1]) λ51 \(result.values.last!)")
    }
}
