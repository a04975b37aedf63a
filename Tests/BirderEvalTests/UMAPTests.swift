import BirderTestSupport
import Foundation
import Testing
@testable import BirderEval

@Suite struct UMAPTests {
    private func normalisedDigits() throws -> [Float] {
        ClusteringEvaluation.normaliseRows(try DigitsFixture.digitsPixels(), n: 1797, d: 64)
    }

    /// umap-learn's k-NN of the digits (exact, from the fixture) as our graph type.
    private func referenceNeighbors(_ fixture: DigitsFixture) -> NeighborGraph {
        NeighborGraph(n: fixture.n, k: 15, indices: fixture.umap.knn_indices.map { Int32($0) },
                      distances: fixture.umap.knn_dists)
    }

    @Test func curveFitMatchesScipy() throws {
        let fixture = try DigitsFixture.load()
        let (a, b) = findABParameters(spread: 1, minDist: 0)
        print("a/b fit: \(a), \(b) vs scipy \(fixture.umap.a), \(fixture.umap.b)")
        #expect(abs(a - fixture.umap.a) < 1e-5)
        #expect(abs(b - fixture.umap.b) < 1e-5)
        // The familiar default pair (min_dist 0.1) as a second point.
        let (a1, b1) = findABParameters(spread: 1, minDist: 0.1)
        #expect(abs(a1 - 1.5769) < 2e-3 && abs(b1 - 0.8951) < 2e-3)
    }

    @Test func exactNeighborsMatchReference() throws {
        let fixture = try DigitsFixture.load()
        let graph = NearestNeighbors.exact(points: try normalisedDigits(), n: fixture.n, d: 64, k: 15, context: testContext)
        var same = 0
        for i in 0..<fixture.n {
            #expect(graph.indices[i * 15] == Int32(i))
            same += Set(graph.indices[(i * 15)..<(i * 15 + 15)]).intersection(fixture.umap.knn_indices[(i * 15)..<(i * 15 + 15)].map { Int32($0) }).count
        }
        let distances = maxAbsDifference(graph.distances, fixture.umap.knn_dists)
        print("k-NN: \(same) of \(fixture.n * 15) neighbours as the float64 reference; distance max diff \(distances.maxDiff)")
        #expect(same >= fixture.n * 15 - 5)
        #expect(distances.maxDiff < 1e-5)
    }

    @Test func smoothDistancesAndGraphMatchUmapLearn() throws {
        let fixture = try DigitsFixture.load()
        let neighbors = referenceNeighbors(fixture)
        let (sigmas, rhos) = FuzzySimplicialSet.smoothDistances(neighbors, context: testContext)
        let sigma = maxAbsDifference(sigmas, fixture.umap.sigmas), rho = maxAbsDifference(rhos, fixture.umap.rhos)
        let graph = FuzzySimplicialSet.build(neighbors, sigmas: sigmas, rhos: rhos)
        let rowSums = graph.rowSums
        let rowSumDiff = zip(rowSums, fixture.umap.graph_row_sums).map { abs($0 - $1) }.max() ?? 0
        print("sigma max diff \(sigma.maxDiff) (max \(sigma.maxRef)), rho \(rho.maxDiff), graph nnz \(graph.nonZeroCount) vs \(fixture.umap.graph_nnz), row sums \(rowSumDiff)")
        #expect(sigma.maxDiff <= 1e-6 * max(1, sigma.maxRef))
        #expect(rho.maxDiff == 0)
        #expect(graph.nonZeroCount == fixture.umap.graph_nnz)
        #expect(rowSumDiff < 1e-5)
        // Symmetric by construction.
        for i in stride(from: 0, to: fixture.n, by: 97) {
            for e in graph.rowStart[i]..<graph.rowStart[i + 1] {
                #expect(graph.value(row: Int(graph.columns[e]), column: Int32(i)) == graph.values[e])
            }
        }
    }

    @Test func spectralEigenvaluesMatchDenseReference() throws {
        let fixture = try DigitsFixture.load()
        let neighbors = referenceNeighbors(fixture)
        let (sigmas, rhos) = FuzzySimplicialSet.smoothDistances(neighbors, context: testContext)
        let graph = FuzzySimplicialSet.build(neighbors, sigmas: sigmas, rhos: rhos)
        var random = SeededGenerator(seed: 1)
        let result = try #require(SpectralLayout.eigenvectors(graph: graph, dim: 50, random: &random, context: testContext))
        let reference = fixture.umap.laplacian_smallest_eigenvalues
        let difference = zip(result.values, reference).map { abs($0 - $1) }.max() ?? 1
        print("spectral: \(result.iterations) iterations, converged \(result.converged), eigenvalue max diff \(difference) (λ51 = \(reference.last!))")
        #expect(result.converged)
        #expect(difference < 1e-6)
        // Unit-norm, mutually orthogonal, orthogonal to √degree (what eigsh returns).
        let n = fixture.n
        for c in [0, 17, 49] {
            var norm = 0.0, cross = 0.0
            for i in 0..<n {
                norm += result.coordinates[i * 50 + c] * result.coordinates[i * 50 + c]
                cross += result.coordinates[i * 50 + c] * result.coordinates[i * 50 + (c + 1) % 50]
            }
            #expect(abs(norm - 1) < 1e-9 && abs(cross) < 1e-9)
        }
    }

    /// The whole pipeline (Birder's evaluate_ami) on the digits: within 0.05 of umap-learn's AMI.
    @Test func digitsPipelineMatchesUmapLearnAMI() throws {
        let fixture = try DigitsFixture.load()
        var options = UMAPOptions()
        options.layoutThreads = 1
        let result = try ClusteringEvaluation.evaluate(embeddings: try DigitsFixture.digitsPixels(), n: fixture.n, d: 64,
                                                       labels: fixture.labels, seed: 0, umapOptions: options)
        print("digits AMI \(result.ami) vs umap-learn \(fixture.umap.ami_values) mean \(fixture.umap.ami_mean); stages \(result.seconds) umap \(result.umap.seconds)")
        #expect(result.clusters == 10)
        #expect(result.umap.epochs == fixture.umap.n_epochs)
        #expect(result.umap.connectedComponents == fixture.umap.connected_components)
        #expect(abs(result.ami - fixture.umap.ami_mean) <= 0.05)
    }

    @Test func sameSeedSameEmbeddingOnOneThread() throws {
        var random = TestRandom(seed: 4)
        let points = random.floats(300 * 8)
        var options = UMAPOptions(nComponents: 3, seed: 5)
        options.layoutThreads = 1
        options.epochs = 30
        let first = try UMAP.embed(points: points, n: 300, d: 8, options: options).embedding
        let second = try UMAP.embed(points: points, n: 300, d: 8, options: options).embedding
        #expect(first == second)
        #expect(first.count == 900 && first.allSatisfy { $0.isFinite })
    }

    @Test func disconnectedGraphUsesComponentLayout() throws {
        // Three far-apart groups: the k-NN graph falls into components.
        var random = TestRandom(seed: 6)
        var points = [Float]()
        for group in 0..<3 { for _ in 0..<40 { points += [Float(group) * 100 + random.uniform(), random.uniform()] } }
        var options = UMAPOptions(nComponents: 2, nNeighbors: 5, seed: 1)
        options.epochs = 50
        let (embedding, report) = try UMAP.embed(points: points, n: 120, d: 2, options: options)
        #expect(report.connectedComponents == 3)
        #expect(embedding.allSatisfy { $0.isFinite })
        let labels = try Ward.cluster(points: embedding, n: 120, d: 2, k: 3)
        #expect(samePartition(labels, (0..<120).map { $0 / 40 }))
    }

    @Test func rejectsBadInput() {
        #expect(throws: EvaluationError.self) { try UMAP.embed(points: [1, 2, 3], n: 2, d: 2) }
        #expect(throws: EvaluationError.self) { try UMAP.embed(points: [1, 2, 3, .infinity], n: 2, d: 2) }
        #expect(throws: EvaluationError.self) { try UMAP.embed(points: [1, 2, 3, 4], n: 2, d: 2, nNeighbors: 1) }
        #expect(throws: EvaluationError.self) {
            try ClusteringEvaluation.ami(embeddings: [1, 2, 3, 4], n: 2, d: 2, labels: [0])
        }
    }
}
