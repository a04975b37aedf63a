import Foundation

/// What `birder serve` was asked for: where to listen, how to batch, and the limits each request
/// is held to.
public struct ServerConfiguration: Sendable {
    /// Address to bind (loopback unless told otherwise).
    public var host: String = "127.0.0.1"
    /// TCP port; 0 picks a free one (the chosen port is reported through `onListening`).
    public var port: Int = 8080
    /// The most images one forward pass takes.
    public var maxBatchSize: Int = 8
    /// How long the first image of a batch waits for others to join it.
    public var maxQueueDelay: Duration = .milliseconds(5)
    /// Images waiting per model; beyond it requests are refused with 429 at once.
    public var maxQueue: Int = 64
    /// Largest request body; larger ones get 413.
    public var maxBodyBytes: Int = 32 << 20
    /// Largest image by its header's width × height; larger ones get 422 before any decoding.
    public var maxImagePixels: Int = 40_000_000
    /// Per-request deadline, queueing and compute included; past it the client gets 504 and the
    /// request's queue slot is freed.
    public var timeout: Duration = .seconds(30)
    /// Classes per head when a request gives no `top_k`.
    public var defaultTopK: Int = 5
    /// When set, every endpoint but the health checks requires `Authorization: Bearer KEY`.
    public var apiKey: String?
    /// Origins allowed cross-origin access; none by default (no CORS headers at all).
    public var corsOrigins: [String] = []

    public init() {}

    /// The value of `Retry-After` (seconds) on a 429: about one queue's worth of work.
    var retryAfterSeconds: Int { 1 }
}
