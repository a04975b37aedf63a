import Foundation
import HTTPTypes
import Hummingbird

/// A refusal with its HTTP status and a reason that is safe to show the client; rendered as
/// `{"error": "…"}` (never an HTML page, never a stack trace).
struct ServerError: HTTPResponseError, CustomStringConvertible {
    let status: HTTPResponse.Status
    let message: String
    var headers: HTTPFields = [:]

    var description: String { "\(status.code): \(message)" }

    func response(from request: Request, context: some RequestContext) throws -> Response {
        var headers = self.headers
        headers[.contentType] = "application/json"
        return Response(status: status, headers: headers,
                        body: .init(byteBuffer: ByteBuffer(string: "{\"error\": \(JSONText.string(message))}\n")))
    }

    static func badRequest(_ message: String) -> ServerError { ServerError(status: .badRequest, message: message) }
    static func notFound(_ message: String) -> ServerError { ServerError(status: .notFound, message: message) }
    static func unsupportedMediaType(_ message: String) -> ServerError { ServerError(status: .unsupportedMediaType, message: message) }
    static func contentTooLarge(_ message: String) -> ServerError { ServerError(status: .contentTooLarge, message: message) }
    static func unprocessable(_ message: String) -> ServerError { ServerError(status: .unprocessableContent, message: message) }
    static func unavailable(_ message: String) -> ServerError { ServerError(status: .serviceUnavailable, message: message) }
    static func gatewayTimeout(_ message: String) -> ServerError { ServerError(status: .gatewayTimeout, message: message) }
    /// nginx's 499: the client closed its connection before the answer (counted in the metrics; the
    /// answer reaches only a client that merely shut down its sending side).
    static func clientClosed() -> ServerError {
        ServerError(status: .init(code: 499, reasonPhrase: "Client Closed Request"),
                    message: "the client closed its connection before the answer; its work was dropped")
    }
    static func unauthorized() -> ServerError {
        ServerError(status: .unauthorized, message: "missing or wrong API key; send Authorization: Bearer KEY",
                    headers: [.wwwAuthenticate: "Bearer"])
    }
    static func queueFull(retryAfter: Int, model: String, capacity: Int) -> ServerError {
        ServerError(status: .tooManyRequests,
                    message: "the queue of model '\(model)' is full (\(capacity) images); retry later",
                    headers: [.retryAfter: String(retryAfter)])
    }
}

/// JSON text written by hand where exact float text matters: `Float.description` is the shortest
/// text that reads back to the same float, the form `birder predict` writes, so clients get the
/// same numbers from both.
enum JSONText {
    static func string(_ text: String) -> String {
        var out = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where scalar.value < 0x20:
                out += String(format: "\\u%04x", scalar.value)
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }

    /// A finite float as JSON (non-finite values never reach here: the session reports them as errors).
    static func number(_ value: Float) -> String { value.isFinite ? "\(value)" : "null" }

    static func array(_ values: some Sequence<Float>) -> String {
        "[" + values.map(number).joined(separator: ", ") + "]"
    }
}
