import Birder
import Foundation
import Synchronization

/// Groups concurrent requests into forward passes. Each served model has a bounded queue of
/// images per kind of work; one compute thread takes the lane whose first request has waited
/// longest once it holds a full batch or has waited `maxDelay`, so every model shares one thread
/// budget and batches never interleave. Requests that are cancelled or pass their deadline leave
/// the queue at once (their slots free); if their batch is already running, its result for them
/// is dropped.
final class DynamicBatcher: Sendable {
    struct Limits: Sendable {
        var maxBatchSize: Int
        var maxDelay: Duration
        /// Images waiting per model.
        var maxQueue: Int
        var timeout: Duration
    }

    enum Work: Sendable {
        case classify(topK: Int)
        case embed
        /// A preprocessed N×3×H×W batch: runs on its own (it is already a batch).
        case tensor(Tensor)

        static let tensorLane = 2

        var lane: Int {
            switch self {
            case .classify: return 0
            case .embed: return 1
            case .tensor: return Work.tensorLane
            }
        }
    }

    enum Output: Sendable {
        case classified([Result<Classification, InferenceError>])
        case embedded([Result<[Float], InferenceError>])
        case tensor(TensorOutputs)
    }

    enum Refusal: Error, Equatable {
        /// More images than the queue holds: can never be served (413).
        case tooManyImages(count: Int, capacity: Int)
        /// The queue is full now (429).
        case queueFull(capacity: Int)
        /// The deadline passed (504).
        case deadlineExceeded
        case shuttingDown
    }

    /// Timings of one finished batch, for metrics.
    struct BatchReport: Sendable {
        let model: String
        let images: Int
        let queueWaits: [Duration]
        let compute: Duration
    }

    private struct Job {
        let id: UInt64
        let images: [ImageInput]
        let work: Work
        let enqueued: ContinuousClock.Instant
        var count: Int {
            if case let .tensor(t) = work { return t.shape.first ?? 0 }
            return images.count
        }
    }

    private struct Lane {
        var jobs: [Job] = []
        var images = 0
    }

    private struct State {
        var lanes: [[Lane]]
        /// Waiting per model, all lanes together.
        var queued: [Int]
        var continuations: [UInt64: CheckedContinuation<Output, any Error>] = [:]
        var nextID: UInt64 = 0
        var stopping = false
        var finished = false
    }

    let limits: Limits
    private let sessions: [InferenceSession]
    private let state: Mutex<State>
    /// Wakes the compute thread (new work, stop); it sleeps on it until the next batch is due.
    private let wakeup = NSCondition()
    private let onBatch: @Sendable (BatchReport) -> Void

    init(sessions: [InferenceSession], limits: Limits, onBatch: @escaping @Sendable (BatchReport) -> Void = { _ in }) {
        self.sessions = sessions
        self.limits = limits
        self.onBatch = onBatch
        state = Mutex(State(lanes: sessions.map { _ in [Lane(), Lane(), Lane()] }, queued: sessions.map { _ in 0 }))
        let thread = Thread { [self] in computeLoop() }
        thread.name = "birder-serve-compute"
        thread.start()
    }

    /// Images waiting for `model`.
    func queuedImages(model: Int) -> Int { state.withLock { $0.queued[model] } }

    /// Runs `images` (or the tensor) for `model` in the next batches; throws `Refusal` at once when
    /// the queue cannot take them, or later at the deadline; `CancellationError` when the calling
    /// task is cancelled.
    func submit(model: Int, work: Work, images: [ImageInput]) async throws -> Output {
        let id = state.withLock { s -> UInt64 in s.nextID += 1; return s.nextID }
        let timer = DispatchWorkItem { [self] in finish(id, with: .failure(Refusal.deadlineExceeded)) }
        defer { timer.cancel() }
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { continuation in
                let job = Job(id: id, images: images, work: work, enqueued: .now)
                let refusal = state.withLock { s -> (any Error)? in
                    if Task.isCancelled { return CancellationError() }
                    if s.stopping { return Refusal.shuttingDown }
                    if job.count > limits.maxQueue { return Refusal.tooManyImages(count: job.count, capacity: limits.maxQueue) }
                    if s.queued[model] + job.count > limits.maxQueue { return Refusal.queueFull(capacity: limits.maxQueue) }
                    s.continuations[id] = continuation
                    s.lanes[model][work.lane].jobs.append(job)
                    s.lanes[model][work.lane].images += job.count
                    s.queued[model] += job.count
                    return nil
                }
                if let refusal { continuation.resume(throwing: refusal); return }
                // Armed once the job is registered, so that it always finds it.
                DispatchQueue.global().asyncAfter(deadline: .now() + .nanoseconds(Int(limits.timeout.nanoseconds)), execute: timer)
                signal()
            }
        } onCancel: {
            finish(id, with: .failure(CancellationError()))
        }
    }

    /// Lets queued and running work finish, then ends the compute thread; later submissions are
    /// refused.
    func stop() {
        state.withLock { $0.stopping = true }
        signal()
    }

    /// Waits until `stop()` has drained everything.
    func waitUntilFinished() async {
        while !state.withLock({ $0.finished }) { try? await Task.sleep(for: .milliseconds(10)) }
    }

    // MARK: Completion

    /// Resumes job `id` once (whoever comes first: its batch, its deadline, its cancellation) and
    /// takes it out of its queue if it is still there.
    private func finish(_ id: UInt64, with result: Result<Output, any Error>) {
        let continuation = state.withLock { s -> CheckedContinuation<Output, any Error>? in
            guard let continuation = s.continuations.removeValue(forKey: id) else { return nil }
            for model in s.lanes.indices {
                for lane in s.lanes[model].indices {
                    if let position = s.lanes[model][lane].jobs.firstIndex(where: { $0.id == id }) {
                        let job = s.lanes[model][lane].jobs.remove(at: position)
                        s.lanes[model][lane].images -= job.count
                        s.queued[model] -= job.count
                    }
                }
            }
            return continuation
        }
        continuation?.resume(with: result)
    }

    // MARK: The compute thread

    private func signal() {
        wakeup.lock()
        wakeup.signal()
        wakeup.unlock()
    }

    private func computeLoop() {
        while let (model, jobs) = nextBatch() { run(model: model, jobs: jobs) }
        state.withLock { $0.finished = true }
    }

    /// Sleeps until a batch is due and takes it; nil once stopping with nothing left.
    private func nextBatch() -> (model: Int, jobs: [Job])? {
        wakeup.lock()
        defer { wakeup.unlock() }
        while true {
            let (batch, due, done) = takeBatch(now: .now)
            if done { return nil }
            if let batch { return batch }
            if let due {
                let seconds = Double((due - .now).nanoseconds) / 1e9
                _ = wakeup.wait(until: Date(timeIntervalSinceNow: max(seconds, 0)))
            } else {
                wakeup.wait()
            }
        }
    }

    /// The batch to run now, or when the next one is due; `done` once stopping with nothing left.
    private func takeBatch(now: ContinuousClock.Instant) -> (batch: (model: Int, jobs: [Job])?, due: ContinuousClock.Instant?, done: Bool) {
        state.withLock { s in
            var best: (model: Int, lane: Int, first: ContinuousClock.Instant)?
            var due: ContinuousClock.Instant?
            for model in s.lanes.indices {
                for lane in s.lanes[model].indices {
                    guard let first = s.lanes[model][lane].jobs.first else { continue }
                    // A tensor request is a batch already; the others wait to fill one.
                    let ready = s.stopping || lane == Work.tensorLane
                        || s.lanes[model][lane].images >= limits.maxBatchSize
                        || now >= first.enqueued + limits.maxDelay
                    if ready {
                        if best == nil || first.enqueued < best!.first { best = (model, lane, first.enqueued) }
                    } else {
                        let when = first.enqueued + limits.maxDelay
                        if due == nil || when < due! { due = when }
                    }
                }
            }
            guard let best else { return (nil, due, s.stopping) }
            var jobs: [Job] = []
            var images = 0
            var lane = s.lanes[best.model][best.lane]
            // Whole requests only; a request larger than a batch runs alone (the session splits it).
            while let job = lane.jobs.first, jobs.isEmpty || (best.lane != Work.tensorLane && images + job.count <= limits.maxBatchSize) {
                jobs.append(lane.jobs.removeFirst())
                images += job.count
            }
            lane.images -= images
            s.lanes[best.model][best.lane] = lane
            s.queued[best.model] -= images
            return ((best.model, jobs), nil, false)
        }
    }

    private func run(model: Int, jobs: [Job]) {
        let session = sessions[model]
        let started = ContinuousClock.now
        // Only requests still waiting for an answer are computed.
        let live = state.withLock { s in jobs.filter { s.continuations[$0.id] != nil } }
        guard !live.isEmpty else { return }
        let inputs = live.flatMap(\.images)
        var results: [(UInt64, Result<Output, any Error>)] = []
        switch live[0].work {
        case .classify:
            // Top-k of a smaller k is a prefix of this: each request takes its own from it.
            let topK = live.map { job -> Int in if case let .classify(k) = job.work { return k } else { return 1 } }.max() ?? 1
            do {
                let items = Array(try session.classify(inputs, topK: topK)).map(\.result)
                var offset = 0
                for job in live {
                    results.append((job.id, .success(.classified(Array(items[offset..<(offset + job.images.count)])))))
                    offset += job.images.count
                }
            } catch {
                results = live.map { ($0.id, .failure(error)) }
            }
        case .embed:
            let items = Array(session.embed(inputs)).map(\.result)
            var offset = 0
            for job in live {
                results.append((job.id, .success(.embedded(Array(items[offset..<(offset + job.images.count)])))))
                offset += job.images.count
            }
        case let .tensor(tensor):
            do { results = [(live[0].id, .success(.tensor(try session.outputs(preprocessed: tensor))))] }
            catch { results = [(live[0].id, .failure(error))] }
        }
        // Recorded before anyone is answered, so a client that reads the metrics next sees its batch.
        onBatch(BatchReport(model: session.model.name, images: live.reduce(0) { $0 + $1.count },
                            queueWaits: live.map { started - $0.enqueued }, compute: .now - started))
        for (id, result) in results { finish(id, with: result) }
    }
}

extension Duration {
    var nanoseconds: Int64 {
        let (seconds, attoseconds) = components
        return seconds * 1_000_000_000 + attoseconds / 1_000_000_000
    }
}
