/// The protection layer and the route table (CONTRACT §4.3, §5, §6): canonicalise, match,
/// CORS, OPTIONS, authenticate, then exactly one handler produces exactly one response.
extension Master {
    func dispatch(_ request: Request) {
        let head = request.head
        if let refusal = RequestFraming.refusal(head) {
            if head.versionZero {
                request.respondVerbatimAndClose(RequestFraming.http11Bytes(refusal), plainSocket: !server.isTLS)
            } else {
                request.respond(refusal)
            }
            return
        }
        if shuttingDown {
            request.respond(APIError.unavailable.response)
            return
        }
        let route: Route
        switch RoutePath.resolve(escapedPath: request.escapedPath, query: request.query, apiBase: config.apiBase) {
        case .redirect(let location):
            request.respond(HTTPConventions.redirect(to: location, forGetOrHead: request.method == .get || request.method == .head))
            return
        case .notFound:
            request.respond(HTTPConventions.notFound)
            return
        case .badRequest:
            request.respond(HTTPConventions.badRequestPlain)
            return
        case .matched(let matched):
            route = matched
        }
        if request.method == .options {
            request.respond(HTTPConventions.empty(status: 200))
            return
        }
        guard let presented = request.header("X-API-Key"), !presented.isEmpty else {
            request.respond(APIError.unauthorized("Unauthorized: API key required").response)
            return
        }
        guard Identifiers.constantTimeEquals(presented, registry.apiKey) else {
            request.respond(APIError.unauthorized("Unauthorized: Invalid API key").response)
            return
        }
        if request.method == .get {
            switch route {
            case .events:
                openEventStream(request)
            case .tcping:
                serveTCPing(request)
            case .info, .instances, .instance:
                // Reads answer at once; only handlers that wait (for a write, a stop) need a task.
                do throws(APIError) {
                    request.respond(try read(route))
                } catch {
                    request.respond(error.response)
                }
            }
            return
        }
        inFlight += 1
        LoopActor.task {
            let response: Response
            do throws(APIError) {
                response = try await self.handle(route, request)
            } catch {
                response = error.response
            }
            self.inFlight -= 1
            request.respond(response)
        }
    }

    private func read(_ route: Route) throws(APIError) -> Response {
        switch route {
        case .info: return infoResponse()
        case .instances: return listInstances()
        case .instance(let id): return try instanceRecord(id: id)
        case .events, .tcping: throw .methodNotAllowed(allow: route.allowedMethods)
        }
    }

    private func handle(_ route: Route, _ request: Request) async throws(APIError) -> Response {
        switch route {
        case .info:
            switch request.method {
            case .post: return try await postInfo(request)
            default: throw .methodNotAllowed(allow: route.allowedMethods)
            }
        case .instances:
            switch request.method {
            case .post: return try await createInstance(request)
            default: throw .methodNotAllowed(allow: route.allowedMethods)
            }
        case .instance(let id):
            return try await instanceDetail(id: id, request: request, allow: route.allowedMethods)
        case .events, .tcping:
            throw .methodNotAllowed(allow: route.allowedMethods)
        }
    }
}
