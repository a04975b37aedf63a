import BirderCore
import Dispatch
import Foundation

/// Prepares batches of model inputs on a background thread while the caller runs the model on the
/// previous batch, so decoding and resizing overlap inference. Batches come out in input order;
/// an image that fails to load is reported in its batch's `failures` and left out of its tensor.
package final class BatchPrefetcher: @unchecked Sendable {
    package struct Batch: Sendable {
        /// Input indices of the images in `tensor`, in order.
        package let indices: [Int]
        /// N×H×W×3, N = indices.count (may be 0 when every image of the batch failed).
        package let tensor: Tensor
        /// Input index and error of each image that could not be prepared.
        package let failures: [(index: Int, error: any Error)]
    }

    /// Writes the H×W×3 input of one path into the pointer, or throws.
    package typealias Loader = @Sendable (_ path: String, _ output: UnsafeMutablePointer<Float>) throws -> Void
    /// Writes the H×W×3 input of item `index` into the pointer, or throws.
    package typealias IndexLoader = @Sendable (_ index: Int, _ output: UnsafeMutablePointer<Float>) throws -> Void

    private let count: Int
    private let batchSize: Int
    private let height: Int
    private let width: Int
    private let loader: IndexLoader
    /// Decoding runs on its own small context: the model's context keeps every core it was given.
    private let decoding: ComputeContext
    private let lock = NSLock()
    private let available = DispatchSemaphore(value: 0)
    private let space: DispatchSemaphore
    private var ready: [Batch] = []
    private var cancelled = false

    package var batchCount: Int { (count + batchSize - 1) / batchSize }

    /// `depth` batches may wait prepared ahead of the consumer; `workers` threads decode in parallel.
    package convenience init(paths: [String], batchSize: Int, height: Int, width: Int, workers: Int = 1, depth: Int = 2,
                             loader: @escaping Loader) {
        self.init(count: paths.count, batchSize: batchSize, height: height, width: width, workers: workers, depth: depth) {
            try loader(paths[$0], $1)
        }
    }

    /// Items 0..<count, each prepared by `loader(index, output)`.
    package init(count: Int, batchSize: Int, height: Int, width: Int, workers: Int = 1, depth: Int = 2,
                 loader: @escaping IndexLoader) {
        precondition(batchSize > 0 && depth > 0 && (1...ComputeContext.maximumThreads).contains(workers),
                     "BatchPrefetcher: sizes must be positive")
        self.count = count
        self.batchSize = batchSize
        self.height = height
        self.width = width
        // The portable set always exists, and decoding uses no kernels.
        decoding = try! ComputeContext(threads: workers, instructionSet: .portable)
        self.loader = loader
        // Start at 0 and count up: libdispatch traps (SIGILL) when a semaphore is freed below its
        // initial value, which an interrupted run does (the producer ahead of the consumer).
        space = DispatchSemaphore(value: 0)
        for _ in 0..<depth { space.signal() }
        Thread { [self] in produce() }.start()
    }

    /// The next batch, or nil after the last one (or after `cancel()`).
    package func next() -> Batch? {
        available.wait()
        let batch: Batch? = lock.withLock { ready.isEmpty ? nil : ready.removeFirst() }
        // After the end, leave the signal for the next caller too: the end stays the end.
        if batch != nil { space.signal() } else { available.signal() }
        return batch
    }

    /// Stops preparing further batches (e.g. on Ctrl-C).
    package func cancel() {
        lock.withLock { cancelled = true }
        space.signal()
    }

    private func produce() {
        let imageSize = height * width * 3
        for start in stride(from: 0, to: count, by: batchSize) {
            space.wait()
            if lock.withLock({ cancelled }) { break }
            let indices = Array(start..<min(start + batchSize, count))
            // Each image is prepared in its own slot; failures are compacted out afterwards.
            var staging = Tensor(zeros: [indices.count, height, width, 3])
            let errors = UncheckedSendable(UnsafeMutablePointer<(any Error)?>.allocate(capacity: indices.count))
            errors.value.initialize(repeating: nil, count: indices.count)
            staging.withUnsafeMutableBufferPointer { buffer in
                let base = UncheckedSendable(buffer.baseAddress!)
                decoding.parallelFor(indices.count) { range in
                    for slot in range {
                        do { try loader(indices[slot], base.value + slot * imageSize) } catch {
                            errors.value[slot] = error
                        }
                    }
                }
            }
            var kept: [Int] = [], failures: [(index: Int, error: any Error)] = []
            for slot in indices.indices {
                if let error = errors.value[slot] { failures.append((indices[slot], error)) } else { kept.append(slot) }
            }
            errors.value.deinitialize(count: indices.count)
            errors.value.deallocate()
            let tensor: Tensor
            if kept.count == indices.count {
                tensor = staging
            } else {
                tensor = Tensor(shape: [kept.count, height, width, 3]) { out in
                    staging.withUnsafeBufferPointer { source in
                        for (row, slot) in kept.enumerated() {
                            (out.baseAddress! + row * imageSize).update(from: source.baseAddress! + slot * imageSize, count: imageSize)
                        }
                    }
                }
            }
            let batch = Batch(indices: kept.map { indices[$0] }, tensor: tensor, failures: failures)
            lock.withLock { ready.append(batch) }
            available.signal()
        }
        // One extra signal wakes the consumer for the end of the stream.
        available.signal()
    }
}
