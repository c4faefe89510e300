public import Hummingbird
public import NIOCore

/// A request's context in the web process: Hummingbird's core context and the client's socket
/// address, which every control request forwards so the engine limits and records logins by the
/// browser's address, not the web process's.
public struct WebRequestContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    public let remoteAddress: SocketAddress?

    public init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        remoteAddress = source.channel.remoteAddress
    }

    /// The client's IP address as text, or nil (a Unix socket).
    var clientIP: String? { remoteAddress?.ipAddress }
}
