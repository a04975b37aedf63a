import Birder
import Foundation
import Synchronization

/// Groups concurrent requests into forward passes. Each served model has a bounded queue of
/// images per kind of work; one compute thread takes the lane whose first request has waited
/// longest once it holds a full batch or has waited `maxDelay`, so every model shares one thread
/// budget and batches never interleave. A decoding thread prepares each request's images (decode,
/// resize, normalise) as it arrives, while the compute thread runs the batch before it, so the
/// next batch is ready when the current one ends; a request joins a batch once it is prepared.
/// Requests that are cancelled, pass their deadline or whose client goes away leave the queue at
/// once (their slots free, they are never computed); if their batch is already running, its result
/// for them is dropped.
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
        /// The client closed its connection (499, which nobody reads).
        case clientGone
        case shuttingDown
    }

    /// A request that left before its answer: `queued` ones were never computed, `running` ones
    /// were taken for a batch and their results are dropped.
    struct DropReport: Sendable {
        enum Stage: String, Sendable { case queued, running }
        enum Reason: String, Sendable, CustomStringConvertible {
            case clientGone = "client_gone"
            case deadline
            case cancelled

            var description: String {
                switch self {
                case .clientGone: return "its client closed the connection"
                case .deadline: return "its deadline passed"
                case .cancelled: return "it was cancelled"
                }
            }
        }

        let model: String
        let images: Int
        let stage: Stage
        let reason: Reason
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
        /// The uploads; once `prepared`, their prepared images (the encoded bytes are let go).
        var images: [ImageInput]
        var prepared: Bool
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
        /// Jobs taken for the batch being computed.
        var running: [UInt64: (model: Int, job: Job)] = [:]
        /// Jobs waiting for the decoding thread, in arrival order.
        var toPrepare: [(model: Int, id: UInt64)] = []
        var nextID: UInt64 = 0
        var stopping = false
        var finished = false
    }

    let limits: Limits
    private let sessions: [InferenceSession]
    private let state: Mutex<State>
    /// Wakes the compute thread (new prepared work, stop); it sleeps on it until the next batch is due.
    private let wakeup = NSCondition()
    /// Wakes the decoding thread (a new upload, stop).
    private let uploads = NSCondition()
    private let onBatch: @Sendable (BatchReport) -> Void
    private let onDrop: @Sendable (DropReport) -> Void

    init(sessions: [InferenceSession], limits: Limits, onBatch: @escaping @Sendable (BatchReport) -> Void = { _ in },
         onDrop: @escaping @Sendable (DropReport) -> Void = { _ in }) {
        self.sessions = sessions
        self.limits = limits
        self.onBatch = onBatch
        self.onDrop = onDrop
        state = Mutex(State(lanes: sessions.map { _ in [Lane(), Lane(), Lane()] }, queued: sessions.map { _ in 0 }))
        let thread = Thread { [self] in computeLoop() }
        thread.name = "birder-serve-compute"
        thread.start()
        let decoding = Thread { [self] in prepareLoop() }
        decoding.name = "birder-serve-decode"
        decoding.start()
    }

    /// Images waiting for `model`.
    func queuedImages(model: Int) -> Int { state.withLock { $0.queued[model] } }

    /// Runs `images` (or the tensor) for `model` in the next batches; throws `Refusal` at once when
    /// the queue cannot take them, or later at the deadline or when `departure` reports the client
    /// gone; `CancellationError` when the calling task is cancelled.
    func submit(model: Int, work: Work, images: [ImageInput], departure: ClientDeparture? = nil) async throws -> Output {
        let id = state.withLock { s -> UInt64 in s.nextID += 1; return s.nextID }
        let timer = DispatchWorkItem { [self] in finish(id, with: .failure(Refusal.deadlineExceeded)) }
        let watch = Mutex<UInt64?>(nil)
        defer {
            timer.cancel()
            if let token = watch.withLock({ $0 }) { departure?.remove(token) }
        }
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { continuation in
                let job = Job(id: id, images: images, prepared: images.isEmpty, work: work, enqueued: .now)
                let refusal = state.withLock { s -> (any Error)? in
                    if Task.isCancelled { return CancellationError() }
                    if s.stopping { return Refusal.shuttingDown }
                    if job.count > limits.maxQueue { return Refusal.tooManyImages(count: job.count, capacity: limits.maxQueue) }
                    if s.queued[model] + job.count > limits.maxQueue { return Refusal.queueFull(capacity: limits.maxQueue) }
                    s.continuations[id] = continuation
                    s.lanes[model][work.lane].jobs.append(job)
                    s.lanes[model][work.lane].images += job.count
                    s.queued[model] += job.count
                    if !job.prepared { s.toPrepare.append((model, id)) }
                    return nil
                }
                if let refusal { continuation.resume(throwing: refusal); return }
                // Armed once the job is registered, so that they always find it.
                DispatchQueue.global().asyncAfter(deadline: .now() + .nanoseconds(Int(limits.timeout.nanoseconds)), execute: timer)
                if let departure {
                    let token = departure.onDeparture { [self] in finish(id, with: .failure(Refusal.clientGone)) }
                    watch.withLock { $0 = token }
                }
                if images.isEmpty { signal() } else { signal(uploads) }
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
        signal(uploads)
    }

    /// Waits until `stop()` has drained everything.
    func waitUntilFinished() async {
        while !state.withLock({ $0.finished }) { try? await Task.sleep(for: .milliseconds(10)) }
    }

    // MARK: Completion

    /// Resumes job `id` once (whoever comes first: its batch, its deadline, its cancellation, its
    /// client's departure) and takes it out of its queue if it is still there.
    private func finish(_ id: UInt64, with result: Result<Output, any Error>) {
        let (continuation, dropped) = state.withLock { s -> (CheckedContinuation<Output, any Error>?, (model: Int, job: Job, stage: DropReport.Stage)?) in
            guard let continuation = s.continuations.removeValue(forKey: id) else { return (nil, nil) }
            for model in s.lanes.indices {
                for lane in s.lanes[model].indices {
                    if let position = s.lanes[model][lane].jobs.firstIndex(where: { $0.id == id }) {
                        let job = s.lanes[model][lane].jobs.remove(at: position)
                        s.lanes[model][lane].images -= job.count
                        s.queued[model] -= job.count
                        return (continuation, (model, job, .queued))
                    }
                }
            }
            if case .failure = result, let running = s.running[id] { return (continuation, (running.model, running.job, .running)) }
            return (continuation, nil)
        }
        continuation?.resume(with: result)
        if let dropped, case let .failure(error) = result {
            let reason: DropReport.Reason = switch error {
            case Refusal.clientGone: .clientGone
            case Refusal.deadlineExceeded: .deadline
            default: .cancelled
            }
            onDrop(DropReport(model: sessions[dropped.model].model.name, images: dropped.job.count, stage: dropped.stage, reason: reason))
        }
    }

    // MARK: The compute thread

    private func signal(_ condition: NSCondition? = nil) {
        let condition = condition ?? wakeup
        condition.lock()
        condition.signal()
        condition.unlock()
    }

    // MARK: The decoding thread

    private func prepareLoop() {
        while let (model, id, images) = nextUpload() {
            let prepared = images.map { ImageInput.prepared(sessions[model].prepare($0)) }
            let placed = state.withLock { s -> Bool in
                for lane in s.lanes[model].indices {
                    if let position = s.lanes[model][lane].jobs.firstIndex(where: { $0.id == id }) {
                        s.lanes[model][lane].jobs[position].images = prepared
                        s.lanes[model][lane].jobs[position].prepared = true
                        return true
                    }
                }
                // Gone meanwhile (deadline, client gone): its pixels are dropped with it.
                return false
            }
            if placed { signal() }
        }
    }

    /// Sleeps until an upload waits to be prepared and takes it; nil once stopping with none left.
    private func nextUpload() -> (model: Int, id: UInt64, images: [ImageInput])? {
        uploads.lock()
        defer { uploads.unlock() }
        while true {
            let (next, done) = state.withLock { s -> ((model: Int, id: UInt64, images: [ImageInput])?, Bool) in
                while !s.toPrepare.isEmpty {
                    let (model, id) = s.toPrepare.removeFirst()
                    for lane in s.lanes[model] {
                        if let job = lane.jobs.first(where: { $0.id == id }) { return ((model, id, job.images), false) }
                    }
                }
                return (nil, s.stopping)
            }
            if let next { return next }
            if done { return nil }
            uploads.wait()
        }
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
                    // A request joins a batch once prepared; the decoding thread wakes this one then.
                    guard let first = s.lanes[model][lane].jobs.first, first.prepared else { continue }
                    let preparedImages = s.lanes[model][lane].jobs.prefix { $0.prepared }.reduce(0) { $0 + $1.count }
                    // A tensor request is a batch already; the others wait to fill one.
                    let ready = s.stopping || lane == Work.tensorLane
                        || preparedImages >= limits.maxBatchSize
                        || now >= first.enqueued + limits.maxDelay
                    if ready {
                        if best == nil || first.enqueued < best!.first { best = (model, lane, first.enqueued) }
                    } else {
                        let when = first.enqueued + limits.maxDelay
                        if due == nil || when < due! { due = when }
                    }
                }
            }
            // Stopping ends the thread once every lane is empty (unprepared requests still run).
            guard let best else { return (nil, due, s.stopping && s.lanes.allSatisfy { $0.allSatisfy(\.jobs.isEmpty) }) }
            var jobs: [Job] = []
            var images = 0
            var lane = s.lanes[best.model][best.lane]
            // Whole requests only; a request larger than a batch runs alone (the session splits it).
            while let job = lane.jobs.first, job.prepared,
                  jobs.isEmpty || (best.lane != Work.tensorLane && images + job.count <= limits.maxBatchSize) {
                jobs.append(lane.jobs.removeFirst())
                images += job.count
            }
            lane.images -= images
            s.lanes[best.model][best.lane] = lane
            s.queued[best.model] -= images
            for job in jobs { s.running[job.id] = (best.model, job) }
            return ((best.model, jobs), nil, false)
        }
    }

    private func run(model: Int, jobs: [Job]) {
        let session = sessions[model]
        let started = ContinuousClock.now
        defer { state.withLock { s in for job in jobs { s.running[job.id] = nil } } }
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
