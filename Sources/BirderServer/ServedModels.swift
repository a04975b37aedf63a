import Birder
import Foundation
import Synchronization

/// One model the server answers for, under its registry name and its checkpoint's file stem.
struct ServedModel: Sendable {
    let model: BirderModel
    let session: InferenceSession
    /// Position in the batcher's lanes.
    let index: Int

    var names: Set<String> { [model.name, model.checkpoint.deletingPathExtension().lastPathComponent] }
    var headNames: [String] { model.classifyingHeads.map(\.name) }
}

/// The models being served, once they are loaded and warmed up. Until then (and after a failed
/// load) requests that need a model get 503 and the readiness check fails.
final class ServedModels: Sendable {
    enum State: Sendable {
        case loading
        case ready([ServedModel])
        case failed(String)
    }

    private let state = Mutex<State>(.loading)

    var current: State { state.withLock { $0 } }

    var isReady: Bool {
        if case .ready = current { return true }
        return false
    }

    func set(_ new: State) { state.withLock { $0 = new } }

    /// The model called `name`; 404 naming the served ones, or 503 while loading.
    func model(named name: String) throws(ServerError) -> ServedModel {
        switch current {
        case .loading: throw .unavailable("models are still loading; retry when /v2/health/ready answers 200")
        case let .failed(reason): throw .unavailable("models failed to load: \(reason)")
        case let .ready(models):
            if let found = models.first(where: { $0.names.contains(name) }) { return found }
            let known = models.map(\.model.name).joined(separator: ", ")
            throw .notFound("no model named '\(name)' is served (served: \(known))")
        }
    }
}
