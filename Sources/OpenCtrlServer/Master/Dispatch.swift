/// The protection layer and the route table (CONTRACT §4.3, §5, §6): canonicalise, match,
/// CORS, OPTIONS, authenticate, then exactly one handler produces exactly one response. The
/// console page (§22.7) is outside the protection layer: it is answered as soon as it matches.
extension Master {
    func dispatch(_ request: Request) {
        let head = request.head
        if let refusal = RequestFraming.refusal(head) {
            httpRequests.count(.other, status: refusal.status)
            if head.versionZero {
                request.respondVerbatimAndClose(RequestFraming.http11Bytes(refusal), plainSocket: !server.isTLS)
            } else {
                request.respond(refusal)
            }
            return
        }
        let decision = RoutePath.resolve(escapedPath: request.escapedPath, query: request.query, apiBase: config.apiBase)
        let label = HTTPRouteLabel(decision)
        request.onRespond = { [unowned self] status in self.httpRequests.count(label, status: status) }
        // `/health` answers with its own body while the master shuts down (§22.5), the console
        // with its own headers (§22.7).
        if shuttingDown && decision != .matched(.health) && decision != .console {
            request.respond(APIError.unavailable.response)
            return
        }
        let route: Route
        switch decision {
        case .redirect(let location):
            request.respond(HTTPConventions.redirect(to: location, forGetOrHead: request.method == .get || request.method == .head))
            return
        case .notFound:
            request.respond(HTTPConventions.notFound)
            return
        case .badRequest:
            request.respond(HTTPConventions.badRequestPlain)
            return
        case .console:
            request.respond(ConsoleRoute.response(isGet: request.method == .get, shuttingDown: shuttingDown))
            return
        case .matched(let matched):
            route = matched
        }
        if request.method == .options {
            request.respond(HTTPConventions.empty(status: 200))
            return
        }
        guard let presented = presentedKey(request, route: route) else {
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
            case .info, .instances, .instance, .logs, .process, .metrics, .health:
                // Reads answer at once; only handlers that wait (for a write, a stop) need a task.
                do throws(APIError) {
                    request.respond(try read(route, request))
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

    private func read(_ route: Route, _ request: Request) throws(APIError) -> Response {
        switch route {
        case .info: return infoResponse()
        case .instances: return listInstances()
        case .instance(let id): return try instanceRecord(id: id)
        case .logs(let id): return try instanceLogs(id: id, query: request.query)
        case .process(let id): return try instanceProcess(id: id)
        case .metrics: return metricsResponse()
        case .health: return healthResponse()
        case .events, .tcping: throw .methodNotAllowed(allow: route.allowedMethods)
        }
    }

    /// `X-API-Key`, or on `/metrics` only (and only without `X-API-Key`) the credential of
    /// `Authorization: Bearer <key>`, which is how Prometheus sends one (§22.1).
    private func presentedKey(_ request: Request, route: Route) -> String? {
        if let key = request.header("X-API-Key") { return key.isEmpty ? nil : key }
        guard route == .metrics, let authorization = request.header("Authorization") else { return nil }
        let scheme = "bearer "
        guard authorization.utf8.count > scheme.utf8.count,
              asciiCaseInsensitiveEquals(String(authorization.prefix(scheme.count)), scheme) else { return nil }
        let credential = authorization.dropFirst(scheme.count).drop { $0 == " " }
        return credential.isEmpty ? nil : String(credential)
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
        case .logs(let id), .process(let id):
            // An unknown instance is 404 whatever the method (§22.1).
            guard registry.instance(id) != nil else { throw .notFound("instance not found") }
            throw .methodNotAllowed(allow: route.allowedMethods)
        case .events, .tcping, .metrics, .health:
            throw .methodNotAllowed(allow: route.allowedMethods)
        }
    }
}
