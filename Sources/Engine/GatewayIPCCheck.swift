import Foundation

/// An `ipc://` gateway endpoint authenticates by file permissions (docs/security.md): whoever can
/// connect to the socket file is trusted with `gateway.ipc_brokers`. That holds only if the
/// directory holding it admits no one but the engine's and the gateway's users, so the engine
/// refuses to start when other users can reach it.
public enum GatewayIPCCheck {
    /// Why the endpoint cannot carry `brokers` and the key to fix, or nil when it can (or carries none).
    public static func problem(endpoint: String, brokers: [String]) -> (key: String, message: String)? {
        guard !brokers.isEmpty else { return nil }
        guard endpoint.hasPrefix("ipc://") else {
            return ("gateway.ipc_brokers", "is set but gateway.bind '\(endpoint)' is not an ipc:// endpoint (over TCP a gateway authenticates with a CURVE key in gateway.curve_keys_file)")
        }
        guard let message = directoryProblem(endpoint) else { return nil }
        return ("gateway.bind", message)
    }

    private static func directoryProblem(_ endpoint: String) -> String? {
        let path = String(endpoint.dropFirst("ipc://".count))
        let directory = (path as NSString).deletingLastPathComponent
        guard !path.hasPrefix("@") else { return "an abstract socket ('\(path)') has no file permissions: use a path in a private directory" }
        var info = stat()
        guard stat(directory.isEmpty ? "." : directory, &info) == 0 else { return "cannot read the directory '\(directory)' of the socket" }
        guard info.st_mode & 0o007 == 0 else {
            return "the directory '\(directory)' of the socket admits every user (mode \(String(info.st_mode & 0o777, radix: 8))): use one only the engine's and the gateway's users can reach (e.g. mode 0750 or 0770)"
        }
        return nil
    }
}
