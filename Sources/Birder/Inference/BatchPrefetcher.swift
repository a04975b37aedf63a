import BirderCore
import Dispatch
import Foundation

/// Prepares batches of model inputs on a background thread while the caller runs the model on the
/// previous batch, so decoding and resizing overlap inference. Batches come out in input order;
/// an image that fails to load is reported in its batch's `failures` and left out of its tensor.
public final class BatchPrefetcher: @unchecked Sendable {
    public struct Batch: Sendable {
        /// Input indices of the images in `tensor`, in order.
        public let indices: [Int]
        /// N×H×W×3, N = indices.count (may be 0 when every image of the batch failed).
        public let tensor: Tensor
        /// Input index and error of each image that could not be prepared.
        public let failures: [(index: Int, error: any Error)]
    }

    /// Writes the H×W×3 input of one path into the pointer, or throws.
    public typealias Loader = @Sendable (_ path: String, _ output: UnsafeMutablePointer<Float>) throws -> Void

    private let paths: [String]
    private let batchSize: Int
    private let height: Int
    private let width: Int
    private let loader: Loader
    private let workers: Int
    private let lock = NSLock()
    private let available = DispatchSemaphore(value: 0)
    private let space: DispatchSemaphore
    private var ready: [Batch] = []
    private var cancelled = false

    public var batchCount: Int { (paths.count + batchSize - 1) / batchSize }

    /// `depth` batches may wait prepared ahead of the consumer; `workers` threads decode in parallel.
    public init(paths: [String], batchSize: Int, height: Int, width: Int, workers: Int = 1, depth: Int = 2,
                loader: @escaping Loader) {
        precondition(batchSize > 0 && depth > 0 && workers > 0, "BatchPrefetcher: sizes must be positive")
        self.paths = paths
        self.batchSize = batchSize
        self.height = height
        self.width = width
        self.workers = workers
        self.loader = loader
        self.space = DispatchSemaphore(value: depth)
        Thread { [self] in produce() }.start()
    }

    /// The next batch, or nil after the last one (or after `cancel()`).
    public func next() -> Batch? {
        available.wait()
        let batch: Batch? = lock.withLock { ready.isEmpty ? nil : ready.removeFirst() }
        // After the end, leave the signal for the next caller too: the end stays the end.
        if batch != nil { space.signal() } else { available.signal() }
        return batch
    }

    /// Stops preparing further batches (e.g. on Ctrl-C).
    public func cancel() {
        lock.withLock { cancelled = true }
        space.signal()
    }

    private func produce() {
        let imageSize = height * width * 3
        for start in stride(from: 0, to: paths.count, by: batchSize) {
            space.wait()
            if lock.withLock({ cancelled }) { break }
            let indices = Array(start..<min(start + batchSize, paths.count))
            // Each image is prepared in its own slot; failures are compacted out afterwards.
            var staging = Tensor(zeros: [indices.count, height, width, 3])
            let errors = UncheckedSendable(UnsafeMutablePointer<(any Error)?>.allocate(capacity: indices.count))
            errors.value.initialize(repeating: nil, count: indices.count)
            staging.withUnsafeMutableBufferPointer { buffer in
                let base = UncheckedSendable(buffer.baseAddress!)
                parallelFor(indices.count, threads: workers) { range in
                    for slot in range {
                        do { try loader(paths[indices[slot]], base.value + slot * imageSize) } catch {
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
