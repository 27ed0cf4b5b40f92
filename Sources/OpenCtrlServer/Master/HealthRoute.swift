/// `GET <P>/health` (CONTRACT §22.5).
extension Master {
    func healthResponse() -> Response {
        APIError.internalError("health is not implemented yet").response
    }
}
