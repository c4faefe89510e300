import Crypto
import Dispatch
import Foundation
public import Logging
import Security
import Storage
import TradingCore
public import ZeroMQ

/// The control socket (`control.bind`, a ROUTER; docs/security.md): JSON requests from
/// `algotrader ctl`, the web process or any DEALER/REQ client. Two frames in (command, JSON
/// object) and two out (`ok` or `error`, JSON object). `login` exchanges a password for a random
/// 256-bit token whose SHA-256 alone is stored in `user_sessions`; every other command carries
/// `token`. Investors read, traders act on their own resources, admins on all. Per-user reads and
/// writes run as the row-level-security role for the user acted on.
///
/// Every request's peer is known: the TCP address libzmq gives with each message or, for a
/// front end that shows the forwarder secret, the client address it forwards. Failed logins are
/// limited per (username, peer) and per peer; messages over 64 KiB are dropped by libzmq before
/// they are read; fields are typed strictly (``ControlRequest``).
public final class ControlServer: Sendable {
    public struct Settings: Sendable {
        public var endpoint: String
        public var sessionTTLMinutes: Int
        public var maxFailedLogins: Int
        public var maxFailedLoginsPerPeer: Int
        public var failedLoginWindowSeconds: Int
        /// The secret a forwarding front end shows with `forwarded_for`; nil: forwarding refused.
        public var forwarderSecret: String?
        /// The scrypt cost new passwords get (`security.password_scrypt_log_n`): an unknown
        /// username is checked against a hash of the same cost, so timing tells nothing.
        public var passwordLogN: Int

        public init(endpoint: String, sessionTTLMinutes: Int = 480, maxFailedLogins: Int = 5, maxFailedLoginsPerPeer: Int = 20,
                    failedLoginWindowSeconds: Int = 300, forwarderSecret: String? = nil, passwordLogN: Int = 15) {
            self.passwordLogN = passwordLogN
            self.endpoint = endpoint
            self.sessionTTLMinutes = sessionTTLMinutes
            self.maxFailedLogins = maxFailedLogins
            self.maxFailedLoginsPerPeer = maxFailedLoginsPerPeer
            self.failedLoginWindowSeconds = failedLoginWindowSeconds
            self.forwarderSecret = forwarderSecret
        }
    }

    /// What the control socket can do to the running engine.
    public struct Hooks: Sendable {
        /// Applies strategy changes soon (`strategy.start`, `strategy.stop`).
        public var reloadStrategies: @Sendable () -> Void
        public var desk: OrderDesk?
        /// `reload`: what SIGHUP does, returning once it is applied; nil in a process that has
        /// no strategies to reload.
        public var reload: (@Sendable () throws -> StrategyRuntime.Loaded)?

        public init(reloadStrategies: @escaping @Sendable () -> Void, desk: OrderDesk?,
                    reload: (@Sendable () throws -> StrategyRuntime.Loaded)? = nil) {
            self.reloadStrategies = reloadStrategies
            self.desk = desk
            self.reload = reload
        }
    }

    /// The largest request read (a login or a halt is well under 1 KiB).
    public static let maxMessageBytes = 65_536

    let settings: Settings
    private let context: ZMQContext
    private let connectionString: String
    let logger: Logger
    let hooks: Hooks
    private let security: SocketSecurity?
    private let service = ServiceThread()
    /// A syntactically valid hash no password matches, for unknown usernames.
    private let decoyHash: String

    public init(settings: Settings, context: ZMQContext, connectionString: String, logger: Logger, hooks: Hooks,
                security: SocketSecurity? = nil) {
        self.settings = settings
        decoyHash = (try? PasswordHasher(logN: settings.passwordLogN).hash(UUID().uuidString)) ?? "$scrypt$ln=15,r=8,p=1$AAAA$AAAA"
        self.context = context
        self.connectionString = connectionString
        self.logger = logger
        self.hooks = hooks
        self.security = security
    }

    public func start() throws(ZMQError) {
        try service.start(name: "control") { [self] ready in run(ready) }
    }

    public func stop() {
        service.stop()
    }

    /// Who sent a request, after its token was checked.
    struct Caller {
        let userID: String
        let username: String
        let role: String
        var isAdmin: Bool { role == "admin" }
        var canAct: Bool { role != "investor" }
    }

    /// Where a request came from: recorded in the audit log and `user_sessions`, and the key the
    /// login limits count by — something the client cannot pick: its IP address (TCP, or the
    /// client's as a front end with the forwarder secret forwards it), or over ipc the user id
    /// the kernel vouches for (`uid:1000`), so local users on an ipc control socket are told apart.
    struct Peer {
        /// The client's IP address, for `user_sessions.ip_address`; nil over ipc.
        let address: String?
        /// What `audit_log.peer` records and the limits count by.
        let label: String
        let userAgent: String?
    }

    private func run(_ ready: (ZMQError?) -> Void) {
        let socket: ZMQSocket
        do {
            socket = try ZMQSocket(context: context, type: .router, linger: 500)
            try socket.setMaxMessageSize(Int64(Self.maxMessageBytes))
            try security?.applyServer(to: socket, as: .control)
            try socket.bind(settings.endpoint)
        } catch {
            ready(error)
            return
        }
        ready(nil)
        logger.info("control socket ready", metadata: ["endpoint": "\(settings.endpoint)"])
        let db = LazyConnection(connectionString: connectionString)
        var limiter = LoginLimiter(max: settings.maxFailedLogins, maxPerPeer: settings.maxFailedLoginsPerPeer,
                                   window: Double(settings.failedLoginWindowSeconds))
        while !service.isStopping {
            guard service.waitForMessage(on: socket),
                  let message = try? socket.receiveMessage(dontWait: true, maxBytes: Self.maxMessageBytes, maxFrames: 4) else { continue }
            var frames = message.frames
            guard frames.count >= 2 || (message.oversized && !frames.isEmpty) else { continue }
            // A REQ client puts an empty delimiter after its identity: answer in the same envelope.
            let envelope = frames.count > 1 && frames[1].isEmpty ? [frames[0], []] : [frames[0]]
            frames.removeFirst(envelope.count)
            func reply(_ status: String, _ body: JSONObjectWriter) {
                _ = try? socket.send(envelope + [Array(status.utf8), body.bytes])
            }
            func refuse(_ message: String, _ code: ControlRefusal.Code = .badRequest) {
                var body = JSONObjectWriter()
                body.add("error", message)
                body.add("code", code.rawValue)
                reply("error", body)
            }
            guard !message.oversized else {
                refuse("the request is larger than \(Self.maxMessageBytes) bytes or has too many frames")
                continue
            }
            guard frames.count == 2, let command = String(validating: frames[0], as: UTF8.self), command.utf8.count <= 64 else {
                refuse("expected two frames: a command and a JSON object")
                continue
            }
            do {
                let request = try ControlRequest(frames[1])
                try request.checkFields(for: command)
                let peer = try peer(of: request, transport: message.peerAddress)
                let conn = try db.get()
                reply("ok", try handle(command, request, peer: peer, conn, &limiter))
            } catch let refusal as ControlRefusal {
                refuse(refusal.message, refusal.code)
            } catch let error as DatabaseError {
                db.close()
                logger.error("control request failed", metadata: ["command": "\(PrintableText.make(command, maxCharacters: 64))", "error": "\(error)"])
                refuse("database error: \(error.message)", .unavailable)
            } catch {
                refuse("\(error)")
            }
        }
        db.close()
        socket.close()
    }

    /// The request's peer: the forwarded client of a front end that knows the forwarder secret,
    /// else the transport's address. A forwarded address without the secret is refused, so a
    /// client cannot pick the address it is limited by.
    private func peer(of request: ControlRequest, transport: String?) throws(ControlRefusal) -> Peer {
        let client = try request.string("client", max: 256)
        guard let forwarded = try request.string("forwarded_for", max: 64) else {
            if let address = Self.ipAddress(transport) { return Peer(address: address, label: address, userAgent: client) }
            return Peer(address: nil, label: Self.ipcUser(transport) ?? "local", userAgent: client)
        }
        guard let expected = settings.forwarderSecret,
              let shown = try request.string("forwarder_secret", max: 256, printable: false),
              Self.constantTimeEqual(Array(shown.utf8), Array(expected.utf8)) else {
            throw ControlRefusal("'forwarded_for' needs the forwarder secret (control.forwarder_secret_file)")
        }
        guard let address = Self.ipAddress(forwarded) else { throw ControlRefusal("'forwarded_for' must be an IP address") }
        return Peer(address: address, label: address, userAgent: try request.string("user_agent", max: 512) ?? client)
    }

    /// `uid:N` from an ipc peer's `Peer-Address` (libzmq on Linux: `host:uid:gid:pid`, from
    /// SO_PEERCRED), or nil.
    static func ipcUser(_ peer: String?) -> String? {
        guard let parts = peer?.split(separator: ":", omittingEmptySubsequences: false), parts.count >= 4,
              let uid = UInt32(parts[parts.count - 3]) else { return nil }
        return "uid:\(uid)"
    }

    static func constantTimeEqual(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        guard a.count == b.count else { return false }
        var difference: UInt8 = 0
        for (x, y) in zip(a, b) { difference |= x ^ y }
        return difference == 0
    }

    static func hash(_ token: String) -> String {
        SHA256.hash(data: Array(token.utf8)).map { String(format: "%02x", $0) }.joined()
    }

    /// The text as an IP address (v4 or v6, as inet_pton reads it), or nil.
    static func ipAddress(_ text: String?) -> String? {
        guard let text, !text.isEmpty, text.utf8.count <= 45 else { return nil }
        var v4 = in_addr(), v6 = in6_addr()
        if inet_pton(AF_INET, text, &v4) == 1 || inet_pton(AF_INET6, text, &v6) == 1 { return text }
        return nil
    }

    private func login(_ request: ControlRequest, peer: Peer, _ db: DatabaseConnection, _ limiter: inout LoginLimiter) throws -> JSONObjectWriter {
        // Type errors are refused before anything is counted; a name too long or unprintable to
        // be anyone's fails like a wrong password (and is audited cut to the longest name).
        guard let username = try request.string("username", max: Self.maxMessageBytes, printable: false),
              let password = try request.string("password", max: 1_024, printable: false) else {
            throw ControlRefusal("login needs 'username' and 'password' (strings)")
        }
        let auditedName = PrintableText.make(username, maxCharacters: ControlRequest.maxUsername)
        let now = Date().timeIntervalSince1970
        if let (wait, key) = limiter.blocked(user: auditedName, peer: peer.label, now: now) {
            if let refused = limiter.refused(key: key, now: now) {
                var details = JSONObjectWriter()
                details.add("reason", "rate_limited")
                details.add("refused", refused)
                try AuditLog.record(db, actor: "ctl:\(auditedName)", action: .loginFailed, target: auditedName, details: details.text,
                                    peer: peer.label)
            }
            throw ControlRefusal("too many failed logins: try again in \(Int(wait.rounded(.up))) s", .rateLimited)
        }
        let valid = PrintableText.isIdentifier(username, maxCharacters: ControlRequest.maxUsername)
        let user = valid ? try SessionStore.credentials(db, username: username) : nil
        // Unknown users cost a verification too, so timing does not tell which names exist.
        let stored = user?.passwordHash ?? decoyHash
        let matches = (try? PasswordHasher.verify(password, against: stored)) ?? false
        guard let user, matches, user.isActive else {
            limiter.fail(user: auditedName, peer: peer.label, now: now)
            var details = JSONObjectWriter()
            details.add("reason", user?.isActive == false ? "disabled" : "bad credentials")
            try AuditLog.record(db, actor: "ctl:\(auditedName)", actorUserID: user?.userID, action: .loginFailed, targetUserID: user?.userID,
                                target: auditedName, details: details.text, peer: peer.label)
            throw ControlRefusal("login failed", .unauthorized)
        }
        limiter.succeed(user: auditedName, peer: peer.label)
        var bytes = [UInt8](repeating: 0, count: 32)
        var rng = SystemRandomNumberGenerator()
        for i in bytes.indices { bytes[i] = rng.next() }
        let token = Data(bytes).base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
        let userID = user.userID
        let expires = try SessionStore.open(db, userID: userID, tokenHash: Self.hash(token), minutes: settings.sessionTTLMinutes,
                                            ipAddress: peer.address, userAgent: peer.userAgent) { conn in
            try AuditLog.record(conn, actor: "ctl:\(username)", actorUserID: userID, action: .login, targetUserID: userID, peer: peer.label)
        }
        var answer = JSONObjectWriter()
        answer.add("token", token)
        answer.add("user_id", userID)
        answer.add("role", user.role)
        answer.add("expires_at", expires)
        return answer
    }

    func handle(_ command: String, _ request: ControlRequest, peer: Peer, _ db: DatabaseConnection,
                _ limiter: inout LoginLimiter) throws -> JSONObjectWriter {
        if command == "login" { return try login(request, peer: peer, db, &limiter) }
        guard let token = try request.string("token", max: 128), !token.isEmpty else {
            throw ControlRefusal("'\(PrintableText.make(command, maxCharacters: 64))' needs a token (log in first)", .unauthorized)
        }
        guard let session = try SessionStore.caller(db, tokenHash: Self.hash(token)) else {
            throw ControlRefusal("the token is unknown or expired: log in again", .unauthorized)
        }
        let caller = Caller(userID: session.userID, username: session.username, role: session.role)
        return try handle(command, request, caller: caller, token: token, peer: peer, db)
    }

}
