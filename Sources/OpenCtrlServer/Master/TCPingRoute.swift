/// `GET <P>/tcping?target=<host:port>` (CONTRACT §8.10, §14, §20): a TCP connect from the master,
/// answered `200` with its result. A probe is a state machine on the loop: parse the target, wait
/// for one of 256 slots (1 s at most), resolve a name with evdns, connect to each address in turn
/// within the 5 s budget, answer, free the slot. A client that goes away cancels its probe.
extension Master {
    private static let targetKey = Array("target".utf8)

    func serveTCPing(_ request: Request) {
        let target = request.query.flatMap { GoURLEscaping.firstQueryValue(Array($0.utf8), key: Self.targetKey) }
        guard let target, !target.isEmpty else {
            request.respond(APIError.badRequest("Target address required").response)
            return
        }
        tcpingService.probe(target, for: request)
    }
}
