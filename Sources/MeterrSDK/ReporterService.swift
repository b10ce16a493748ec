import ServiceLifecycle

extension Reporter: Service {
    /// Runs as a ServiceLifecycle service: the reporter sends from its own task all along; when the
    /// service group shuts down gracefully (or this task is cancelled), it delivers what is buffered
    /// within `shutdownTimeout` and ends. Put it after the services that report, so it stops last.
    public func run() async throws {
        try? await gracefulShutdown()
        await shutdown(timeout: configuration.shutdownTimeout)
    }
}
