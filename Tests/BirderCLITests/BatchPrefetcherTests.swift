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

extension BatchPrefetcherTests {
    /// Ctrl-C in the middle of a run drops a prefetcher whose producer is ahead of the consumer
    /// (issue 14, item 4): libdispatch traps (SIGILL) when a semaphore is freed below its initial
    /// value, which crashed `predict` in about 40 % of interrupted runs.
    @Test func droppingAnInterruptedPrefetcherDoesNotTrap() {
        var consumed = 0
        for _ in 0..<30 {
            var prefetcher: BatchPrefetcher? = BatchPrefetcher(paths: (0..<64).map(String.init), batchSize: 1,
                                                               height: 1, width: 1, depth: 3) { _, out in out[0] = 1 }
            if prefetcher?.next() != nil { consumed += 1 }
            // Let the producer fill its queue, so the semaphore sits below its start when freed.
            Thread.sleep(forTimeInterval: 0.01)
            prefetcher?.cancel()
            prefetcher = nil
        }
        // The producer threads release their last references as they stop.
        Thread.sleep(forTimeInterval: 0.2)
        #expect(consumed == 30)
    }
}
