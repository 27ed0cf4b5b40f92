/// The `route` label of `openctrl_http_requests_total` (CONTRACT §22.4): one value per route,
/// and `other` for everything the router answers itself (404, 301, 400 for a bad path) and for
/// requests refused before routing.
public enum HTTPRouteLabel: Int, CaseIterable, Sendable {
    case info, instances, instance, logs, process, events, tcping, metrics, health, console, other

    public init(_ decision: RouteDecision) {
        switch decision {
        case .matched(.info): self = .info
        case .matched(.instances): self = .instances
        case .matched(.instance): self = .instance
        case .matched(.logs): self = .logs
        case .matched(.process): self = .process
        case .matched(.events): self = .events
        case .matched(.tcping): self = .tcping
        case .matched(.metrics): self = .metrics
        case .matched(.health): self = .health
        case .console: self = .console
        case .redirect, .notFound, .badRequest: self = .other
        }
    }

    public var name: String {
        switch self {
        case .info: "info"
        case .instances: "instances"
        case .instance: "instance"
        case .logs: "logs"
        case .process: "process"
        case .events: "events"
        case .tcping: "tcping"
        case .metrics: "metrics"
        case .health: "health"
        case .console: "console"
        case .other: "other"
        }
    }
}

/// Answered requests by route and status code. Counted once per request where its answer is
/// sent, so this costs an array index and a short scan: a route sees a handful of codes.
public struct HTTPRequestCounts: Sendable, Equatable {
    private var perRoute: [[(code: Int32, count: UInt64)]] = Array(repeating: [], count: HTTPRouteLabel.allCases.count)

    public init() {}

    public mutating func count(_ route: HTTPRouteLabel, status: Int32) {
        if let index = perRoute[route.rawValue].firstIndex(where: { $0.code == status }) {
            perRoute[route.rawValue][index].count += 1
        } else {
            perRoute[route.rawValue].append((status, 1))
        }
    }

    /// Every (route, code) pair seen so far, routes in label order and codes ascending.
    public var series: [(route: HTTPRouteLabel, code: Int32, count: UInt64)] {
        HTTPRouteLabel.allCases.flatMap { route in
            perRoute[route.rawValue].sorted { $0.code < $1.code }.map { (route, $0.code, $0.count) }
        }
    }

    public static func == (a: HTTPRequestCounts, b: HTTPRequestCounts) -> Bool {
        a.series.elementsEqual(b.series) { $0.route == $1.route && $0.code == $1.code && $0.count == $1.count }
    }
}
