import Birder
import BirderTestSupport
import Foundation
import Testing
@testable import BirderServer

/// The batcher alone: a request whose client goes away leaves the queue at once.
@Suite struct DynamicBatcherTests {
    @Test func aCancelledRequestLeavesTheQueueAndIsNotComputed() async throws {
        let model = try ServerFixtures.load()
        let session = try InferenceSession(model: model, context: ComputeContext(threads: 1))
        let batches = BatchLog()
        let batcher = DynamicBatcher(sessions: [session],
                                     limits: .init(maxBatchSize: 8, maxDelay: .milliseconds(400), maxQueue: 4, timeout: .seconds(30)),
                                     onBatch: { batches.append($0.images) })
        let images = [ImageInput.encoded(ServerFixtures.jpeg, name: "a"), .encoded(ServerFixtures.jpeg, name: "b")]
        let request = Task { try await batcher.submit(model: 0, work: .embed, images: images) }
        while batcher.queuedImages(model: 0) != 2 { try await Task.sleep(for: .milliseconds(5)) }
        request.cancel()
        await #expect(throws: CancellationError.self) { try await request.value }
        #expect(batcher.queuedImages(model: 0) == 0)
        // Past the batching delay nothing ran for it; a later request is computed as usual.
        try await Task.sleep(for: .milliseconds(600))
        #expect(batches.sizes.isEmpty)
        let output = try await batcher.submit(model: 0, work: .embed, images: [images[0]])
        guard case let .embedded(rows) = output else { Issue.record("embed answered \(output)"); return }
        #expect(try rows.first?.get() == session.embed(images[0]))
        #expect(batches.sizes == [1])
        batcher.stop()
        await batcher.waitUntilFinished()
        await #expect(throws: DynamicBatcher.Refusal.shuttingDown) { try await batcher.submit(model: 0, work: .embed, images: images) }
    }

    @Test func aRequestWhoseClientLeavesIsDroppedFromTheQueueAndReported() async throws {
        let model = try ServerFixtures.load()
        let session = try InferenceSession(model: model, context: ComputeContext(threads: 1))
        let batches = BatchLog()
        let drops = DropLog()
        let batcher = DynamicBatcher(sessions: [session],
                                     limits: .init(maxBatchSize: 8, maxDelay: .milliseconds(400), maxQueue: 4, timeout: .seconds(30)),
                                     onBatch: { batches.append($0.images) }, onDrop: { drops.append($0) })
        let departure = ClientDeparture()
        let images = [ImageInput.encoded(ServerFixtures.jpeg, name: "a"), .encoded(ServerFixtures.jpeg, name: "b")]
        let request = Task { try await batcher.submit(model: 0, work: .embed, images: images, departure: departure) }
        while batcher.queuedImages(model: 0) != 2 { try await Task.sleep(for: .milliseconds(5)) }
        departure.markDeparted()
        await #expect(throws: DynamicBatcher.Refusal.clientGone) { try await request.value }
        #expect(batcher.queuedImages(model: 0) == 0)
        #expect(drops.reports.map { "\($0.images) \($0.stage.rawValue) \($0.reason.rawValue)" } == ["2 queued client_gone"])
        // A request arriving on a connection already gone never enters the queue.
        await #expect(throws: DynamicBatcher.Refusal.clientGone) {
            try await batcher.submit(model: 0, work: .embed, images: images, departure: departure)
        }
        try await Task.sleep(for: .milliseconds(600))
        #expect(batches.sizes.isEmpty)
        batcher.stop()
        await batcher.waitUntilFinished()
    }

    @Test func requestsAreGroupedUpToTheBatchSizeWhole() async throws {
        let model = try ServerFixtures.load()
        let session = try InferenceSession(model: model, context: ComputeContext(threads: 1))
        let batches = BatchLog()
        let batcher = DynamicBatcher(sessions: [session],
                                     // A delay far above the time the four submissions take to arrive.
                                     limits: .init(maxBatchSize: 3, maxDelay: .seconds(3), maxQueue: 16, timeout: .seconds(60)),
                                     onBatch: { batches.append($0.images) })
        let photo = ImageInput.encoded(ServerFixtures.jpeg, name: "p")
        // Requests of 2, 2, 1 and 1 images: whole requests only, at most 3 images a batch. They are
        // submitted together (no pauses between them, which a loaded machine stretches past the
        // queue delay): in whatever order they arrive, whole-request packing needs at most 3 batches.
        try await withThrowingTaskGroup(of: Void.self) { group in
            for count in [2, 2, 1, 1] {
                group.addTask { _ = try await batcher.submit(model: 0, work: .embed, images: Array(repeating: photo, count: count)) }
            }
            try await group.waitForAll()
        }
        #expect(batches.sizes.reduce(0, +) == 6)
        #expect(batches.sizes.allSatisfy { $0 <= 3 })
        #expect(batches.sizes.count <= 3)
        batcher.stop()
        await batcher.waitUntilFinished()
    }
}

final class BatchLog: @unchecked Sendable {
    private let lock = NSLock()
    private var values: [Int] = []
    func append(_ size: Int) { lock.withLock { values.append(size) } }
    var sizes: [Int] { lock.withLock { values } }
}

final class DropLog: @unchecked Sendable {
    private let lock = NSLock()
    private var values: [DynamicBatcher.DropReport] = []
    func append(_ report: DynamicBatcher.DropReport) { lock.withLock { values.append(report) } }
    var reports: [DynamicBatcher.DropReport] { lock.withLock { values } }
}
