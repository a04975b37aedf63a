import Foundation
import HTTPTypes
import Hummingbird

/// `Authorization: Bearer KEY` on every path but the health checks and the static page (which
/// holds no data; it asks the user for the key and sends it with its API calls). Keys are compared
/// in constant time and never logged.
struct APIKeyAuthentication<Context: RequestContext>: RouterMiddleware {
    let key: [UInt8]

    static var openPaths: Set<String> { ["/v2/health/live", "/v2/health/ready", "/", "/demo.jpg"] }

    init(key: String) { self.key = Array(key.utf8) }

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        if Self.openPaths.contains(request.uri.path) || request.method == .options { return try await next(request, context) }
        guard let header = request.headers[.authorization], header.hasPrefix("Bearer "),
              Self.constantTimeEqual(Array(header.utf8.dropFirst("Bearer ".utf8.count)), key) else {
            throw ServerError.unauthorized()
        }
        return try await next(request, context)
    }

    /// Equal byte strings, in time that depends only on the lengths (not on where they differ).
    static func constantTimeEqual(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        var difference = UInt8(truncatingIfNeeded: a.count ^ b.count) | (a.count == b.count ? 0 : 1)
        for i in 0..<max(a.count, b.count) {
            difference |= (i < a.count ? a[i] : 0) ^ (i < b.count ? b[i] : 0)
        }
        return difference == 0
    }
}

/// Cross-origin access for the origins named by `--cors-origin`, and for no other: a request from
/// another origin gets no CORS headers, so browsers keep its page from reading the answer.
struct CrossOriginAccess<Context: RequestContext>: RouterMiddleware {
    let origins: Set<String>

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard let origin = request.headers[.origin], origins.contains(origin) else {
            if request.method == .options, request.headers[.accessControlRequestMethod] != nil {
                return Response(status: .forbidden)
            }
            return try await next(request, context)
        }
        if request.method == .options, request.headers[.accessControlRequestMethod] != nil {
            return Response(status: .noContent, headers: [
                .accessControlAllowOrigin: origin,
                .accessControlAllowMethods: "GET, POST, OPTIONS",
                .accessControlAllowHeaders: "Authorization, Content-Type, Accept",
                .accessControlMaxAge: "600",
                .vary: "Origin",
            ])
        }
        var response: Response
        do { response = try await next(request, context) } catch let error as any HTTPResponseError {
            response = try error.response(from: request, context: context)
        }
        response.headers[.accessControlAllowOrigin] = origin
        response.headers[.accessControlExposeHeaders] = "Retry-After, X-Embedding-Size"
        response.headers[.vary] = "Origin"
        return response
    }
}
