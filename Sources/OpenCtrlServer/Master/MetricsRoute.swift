/// `GET <P>/metrics` (CONTRACT §22.4).
extension Master {
    func metricsResponse() -> Response {
        APIError.internalError("metrics are not implemented yet").response
    }
}
