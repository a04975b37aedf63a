import BirderTestSupport
import Foundation
import Testing
@testable import BirderEval

@Suite struct WardTests {
    private func checkAgainstScikitLearn(points: [Float], n: Int, d: Int, expected: [String: [Int]], what: String) throws {
        let tree = try Ward.tree(points: points, n: n, d: d)
        #expect(tree.merges.count == n - 1)
        for (key, reference) in expected.sorted(by: { Int($0.key)! < Int($1.key)! }) {
            let k = Int(key)!
            let labels = try tree.labels(clusters: k)
            let disagreement = partitionDisagreement(labels, reference)
            print("Ward \(what) k=\(k): \(disagreement) of \(n) points differ from scikit-learn")
            #expect(Set(labels).count == k)
            #expect(samePartition(labels, reference), "\(what) k=\(k): \(disagreement) points differ")
        }
    }

    @Test func digitsMatchScikitLearn() throws {
        let fixture = try DigitsFixture.load()
        let pixels = try DigitsFixture.digitsPixels()
        try checkAgainstScikitLearn(points: pixels, n: fixture.n, d: fixture.d, expected: fixture.ward_digits, what: "digits")
    }

    @Test func umapEmbeddingMatchesScikitLearn() throws {
        let fixture = try DigitsFixture.load()
        let embedding = try Fixtures.float32Array("eval/umap_digits_seed0.f32")
        try checkAgainstScikitLearn(points: embedding, n: fixture.n, d: 50, expected: fixture.ward_umap_seed0, what: "UMAP embedding")
        // The clustering of umap-learn's own embedding scores what scikit-learn's does.
        let labels = try Ward.cluster(points: embedding, n: fixture.n, d: 50, k: 10)
        let ami = try adjustedMutualInformation(labelsTrue: fixture.labels, labelsPred: labels)
        #expect(abs(ami - fixture.umap.ward_on_seed0_embedding_ami) < 1e-12)
    }

    @Test func gaussianBlobsMatchScikitLearn() throws {
        let fixture = try DigitsFixture.load()
        let blobs = try Fixtures.float32Array("eval/blobs_x.f32")
        try checkAgainstScikitLearn(points: blobs, n: fixture.blobs_shape[0], d: fixture.blobs_shape[1],
                                    expected: fixture.ward_blobs, what: "blobs")
    }

    /// Against the textbook algorithm (merge the globally closest pair, Lance–Williams updates on
    /// a full matrix): the same heights and the same partition at every level.
    @Test func matchesNaiveAgglomerationOnRandomPoints() throws {
        var random = TestRandom(seed: 5)
        for (n, d) in [(2, 3), (7, 1), (40, 3), (90, 12)] {
            let points = random.floats(n * d, scale: 3)
            let tree = try Ward.tree(points: points, n: n, d: d)
            let naive = naiveWard(points.map(Double.init), n: n, d: d)
            for (mine, reference) in zip(tree.merges.map(\.height), naive.heights) {
                #expect(abs(mine - reference) <= 1e-9 * max(1, reference))
            }
            for k in 1...n {
                #expect(samePartition(try tree.labels(clusters: k), naive.labels(k)), "n=\(n) d=\(d) k=\(k)")
            }
        }
    }

    @Test func mergeHeightsAreSortedAndSizesAddUp() throws {
        var random = TestRandom(seed: 8)
        let n = 300, d = 20
        let tree = try Ward.tree(points: random.floats(n * d), n: n, d: d)
        #expect(zip(tree.merges, tree.merges.dropFirst()).allSatisfy { $0.height <= $1.height })
        #expect(tree.merges.last?.size == n)
    }

    @Test func duplicatePointsMergeFirst() throws {
        // Ties at distance zero; every duplicate pair must share a cluster until the end.
        let base: [Float] = [0, 0, 5, 5, 0, 0, 9, 1, 5, 5, 9, 1, 3, 3]
        let labels = try Ward.cluster(points: base, n: 7, d: 2, k: 4)
        #expect(labels[0] == labels[2] && labels[1] == labels[4] && labels[3] == labels[5])
        #expect(Set(labels).count == 4)
    }

    @Test func rejectsBadInput() {
        #expect(throws: EvaluationError.self) { try Ward.cluster(points: [0, 1, 2], n: 3, d: 1, k: 4) }
        #expect(throws: EvaluationError.self) { try Ward.cluster(points: [0, 1], n: 3, d: 1, k: 2) }
        #expect(throws: EvaluationError.self) { try Ward.cluster(points: [0, .nan, 2], n: 3, d: 1, k: 2) }
        #expect(throws: EvaluationError.self) { try Ward.cluster(points: [0, 1, 2], n: 3, d: 1, k: 0) }
    }
}

/// O(n³) reference: repeatedly merge the closest pair of a full Lance–Williams matrix.
private func naiveWard(_ x: [Double], n: Int, d: Int) -> (heights: [Double], labels: (Int) -> [Int]) {
    var dist = [[Double]](repeating: [Double](repeating: 0, count: n), count: n)
    for i in 0..<n {
        for j in 0..<n {
            var s = 0.0
            for k in 0..<d { s += (x[i * d + k] - x[j * d + k]) * (x[i * d + k] - x[j * d + k]) }
            dist[i][j] = s.squareRoot()
        }
    }
    var size = [Int](repeating: 1, count: n)
    var members = (0..<n).map { [$0] }
    var alive = Set(0..<n)
    var heights = [Double]()
    var partitions = [[Int]]()  // partitions[m] = labels after m merges
    func snapshot() -> [Int] {
        var labels = [Int](repeating: 0, count: n)
        for (label, cluster) in alive.sorted().enumerated() { for p in members[cluster] { labels[p] = label } }
        return labels
    }
    partitions.append(snapshot())
    while alive.count > 1 {
        var best = (Double.infinity, 0, 0)
        for i in alive { for j in alive where i < j && dist[i][j] < best.0 { best = (dist[i][j], i, j) } }
        let (h, a, b) = best
        heights.append(h)
        for i in alive where i != a && i != b {
            let t = Double(size[a] + size[b] + size[i])
            let value = (Double(size[i] + size[a]) * dist[i][a] * dist[i][a] + Double(size[i] + size[b]) * dist[i][b] * dist[i][b]
                - Double(size[i]) * h * h) / t
            dist[i][b] = value.squareRoot()
            dist[b][i] = dist[i][b]
        }
        size[b] += size[a]
        members[b] += members[a]
        alive.remove(a)
        partitions.append(snapshot())
    }
    return (heights, { k in partitions[n - k] })
}

@Suite struct WardWideDataTests {
    /// Wide points take the block-power path for the bound's directions; the tree must still be
    /// the textbook one.
    @Test func wideDataMatchesNaiveHeights() throws {
        var random = TestRandom(seed: 21)
        let n = 60, d = 130
        let points = random.floats(n * d)
        let tree = try Ward.tree(points: points, n: n, d: d)
        let basis = NearestNeighborChain.principalDirections(points.map(Double.init), n: n, d: d, count: Ward.boundDimensions, context: testContext)
        // Orthonormal rows.
        for r in 0..<Ward.boundDimensions {
            for q in 0..<Ward.boundDimensions {
                var dot = 0.0
                for i in 0..<d { dot += basis[r * d + i] * basis[q * d + i] }
                #expect(abs(dot - (r == q ? 1 : 0)) < 1e-10)
            }
        }
        // Heights against a direct O(n³) agglomeration on centroids.
        var members = (0..<n).map { [$0] }
        var heights = [Double]()
        while members.count > 1 {
            var best = (Double.infinity, 0, 0)
            for a in 0..<members.count {
                for b in (a + 1)..<members.count {
                    var squared = 0.0
                    for t in 0..<d {
                        let ca = members[a].reduce(0.0) { $0 + Double(points[$1 * d + t]) } / Double(members[a].count)
                        let cb = members[b].reduce(0.0) { $0 + Double(points[$1 * d + t]) } / Double(members[b].count)
                        squared += (ca - cb) * (ca - cb)
                    }
                    let na = Double(members[a].count), nb = Double(members[b].count)
                    let ward = (2 * na * nb / (na + nb) * squared).squareRoot()
                    if ward < best.0 { best = (ward, a, b) }
                }
            }
            heights.append(best.0)
            members[best.1] += members[best.2]
            members.remove(at: best.2)
        }
        for (mine, reference) in zip(tree.merges.map(\.height), heights) { #expect(abs(mine - reference) < 1e-9 * max(1, reference)) }
    }
}
