import Hummingbird
import Logging
import NIOCore
import Synchronization

/// Learns that a connection's client went away, so that work nobody waits for is dropped.
/// Hummingbird does not cancel a handler when its client disconnects; the connection's channel
/// does see it: its input reaches end of file (the client closed the socket or shut down its
/// sending side — nginx's 499 "client closed request" counts the same) or the channel closes
/// (a reset). One per connection, shared by the requests it carries one after another.
final class ClientDeparture: Sendable {
    private struct State {
        var departed = false
        var nextToken: UInt64 = 0
        var actions: [UInt64: @Sendable () -> Void] = [:]
    }

    private let state = Mutex(State())

    var hasDeparted: Bool { state.withLock { $0.departed } }

    /// Runs `action` once when the client goes away — at once, before returning, if it has
    /// already gone. Returns the token that `remove` takes (nil when it ran at once).
    func onDeparture(_ action: @escaping @Sendable () -> Void) -> UInt64? {
        let token = state.withLock { s -> UInt64? in
            guard !s.departed else { return nil }
            s.nextToken += 1
            s.actions[s.nextToken] = action
            return s.nextToken
        }
        if token == nil { action() }
        return token
    }

    /// Forgets an action whose request has been answered.
    func remove(_ token: UInt64) { _ = state.withLock { $0.actions.removeValue(forKey: token) } }

    /// Called from the connection's channel; runs the registered actions once.
    func markDeparted() {
        let actions = state.withLock { s -> [@Sendable () -> Void] in
            guard !s.departed else { return [] }
            s.departed = true
            defer { s.actions = [:] }
            return Array(s.actions.values)
        }
        for action in actions { action() }
    }
}

/// Sits in every HTTP/1 connection's pipeline (after HTTP decoding) and tells its
/// `ClientDeparture` when the input ends or the channel goes inactive; it passes everything on.
final class ClientDepartureHandler: ChannelInboundHandler, RemovableChannelHandler, Sendable {
    typealias InboundIn = NIOAny

    let departure = ClientDeparture()

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if case .inputClosed? = event as? ChannelEvent { departure.markDeparted() }
        context.fireUserInboundEventTriggered(event)
    }

    func channelInactive(context: ChannelHandlerContext) {
        departure.markDeparted()
        context.fireChannelInactive()
    }
}

/// The request context of `birder serve`: Hummingbird's core context plus the connection the
/// request came on, to find its `ClientDeparture`.
struct ServeRequestContext: RequestContext {
    var coreContext: CoreRequestContextStorage
    let channel: any Channel

    init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        channel = source.channel
    }

    /// The watch on this request's client; nil where the connection has none (the in-process
    /// router tests' channel).
    func clientDeparture() async -> ClientDeparture? {
        try? await channel.pipeline.handler(type: ClientDepartureHandler.self).map(\.departure).get()
    }
}
