import Foundation
import Testing
@testable import Birder

@Suite struct BatchPrefetcherTests {
    struct Unreadable: Error {}

    /// Batches come out in input order, failures are reported with their index, and the tensor
    /// holds exactly the images that loaded.
    @Test func ordersBatchesAndReportsFailures() {
        let paths = (0..<11).map { "img\($0)" }
        let prefetcher = BatchPrefetcher(paths: paths, batchSize: 4, height: 2, width: 1, workers: 2) { path, out in
            let index = Int(path.dropFirst(3))!
            if index % 5 == 3 { throw Unreadable() }
            for i in 0..<6 { out[i] = Float(index) }
        }
        var seen: [Int] = [], failed: [Int] = []
        var batches = 0
        while let batch = prefetcher.next() {
            batches += 1
            #expect(batch.tensor.shape == [batch.indices.count, 2, 1, 3])
            for (row, index) in batch.indices.enumerated() {
                #expect(batch.tensor.scalars[row * 6] == Float(index))
                seen.append(index)
            }
            failed += batch.failures.map(\.index)
        }
        #expect(batches == 3)
        #expect(seen == [0, 1, 2, 4, 5, 6, 7, 9, 10])
        #expect(failed == [3, 8])
        #expect(prefetcher.next() == nil)
    }

    @Test func cancelStopsEarly() {
        let prefetcher = BatchPrefetcher(paths: (0..<100).map(String.init), batchSize: 1, height: 1, width: 1) { _, out in
            out[0] = 1
        }
        _ = prefetcher.next()
        prefetcher.cancel()
        var remaining = 0
        while prefetcher.next() != nil { remaining += 1 }
        #expect(remaining < 99)
    }
}
