import ArgumentParser
import Config
import Foundation
import ZeroMQ

/// `algotrader ctl ...`: a client of the running daemon's control socket (docs/security.md).
/// `ctl login USER` keeps the token in a file only its owner can read; the other commands send it.
struct Ctl: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Talk to a running daemon's control socket (login first).",
        subcommands: [Login.self, Logout.self, Status.self, Strategies.self, Start.self, Stop.self, Positions.self, Orders.self,
                      Cancel.self, HaltUser.self, ResumeUser.self, Flatten.self, Reload.self])

    /// A strategy as the control socket takes it: a UUID as `strategy_id`, anything else as the
    /// name `strategy` (the socket keeps `strategy_id` strictly a UUID).
    static func naming(_ strategy: String) -> [String: Any] {
        UUID(uuidString: strategy) == nil ? ["strategy": strategy] : ["strategy_id": strategy]
    }

    struct Connection: ParsableArguments {
        @Option(help: "The control endpoint (default: control.bind of --config, else tcp://127.0.0.1:5559).") var endpoint: String?
        @Option(help: "Configuration file to read control.bind from.") var config: String?
        @Option(help: "Where the login token is kept (default: $XDG_RUNTIME_DIR or $HOME, algotrader-ctl.token).") var tokenFile: String?
        @Option(help: "Seconds to wait for an answer.") var timeout: Int = 10
        @Option(help: "The daemon's CURVE public key (Z85), when CURVE is on.") var curveServerKey: String?
        @Option(help: "A file holding this client's CURVE secret key (Z85).") var curveKeyFile: String?

        var tokenPath: String {
            if let tokenFile { return tokenFile }
            let env = ProcessInfo.processInfo.environment
            return (env["XDG_RUNTIME_DIR"] ?? env["HOME"] ?? ".") + "/algotrader-ctl.token"
        }

        func resolvedEndpoint() throws -> String {
            if let endpoint { return endpoint }
            if let config {
                var options = ConfigOptions()
                options.config = config
                return try Startup.loadConfig(options, purpose: .migrate).controlBind
            }
            return ProcessInfo.processInfo.environment["ALGOTRADER_CONTROL_BIND"] ?? "tcp://127.0.0.1:5559"
        }

        func token() throws -> String {
            guard let text = try? String(contentsOfFile: tokenPath, encoding: .utf8), !text.isEmpty else {
                throw Admin.fail("no login token at \(tokenPath): run 'algotrader ctl login USER' first")
            }
            return text.trimmingCharacters(in: .whitespacesAndNewlines)
        }

        /// Sends one request and returns the reply's JSON object; exits 1 on an error reply.
        func call(_ command: String, _ body: [String: Any], withToken: Bool = true) throws -> [String: Any] {
            var request = body
            if withToken { request["token"] = try token() }
            let context = try ZMQContext()
            let socket = try ZMQSocket(context: context, type: .dealer, linger: 0)
            defer { socket.close() }
            if let curveServerKey {
                guard let path = curveKeyFile, let secret = try? String(contentsOfFile: path, encoding: .utf8) else {
                    throw Admin.fail("--curve-server-key needs --curve-key-file (this client's secret key)")
                }
                let pair = try CurveKeyPair(secretKey: secret.trimmingCharacters(in: .whitespacesAndNewlines))
                try socket.setCurveClient(publicKey: pair.publicKey, secretKey: pair.secretKey, serverKey: curveServerKey)
            }
            try socket.connect(try resolvedEndpoint())
            // A DEALER's send waits for a connected peer; one whose CURVE handshake fails never
            // connects, so the send, like the answer, waits at most `timeout`.
            try socket.setSendTimeout(milliseconds: Int32(timeout * 1_000))
            let sent = (try? socket.send([Array(command.utf8), Array(try JSONSerialization.data(withJSONObject: request))])) ?? false
            guard sent, try socket.poll(.readable, timeoutMilliseconds: timeout * 1_000).contains(.readable),
                  let frames = try socket.receive(dontWait: true), frames.count == 2 else {
                // Exit at once: tearing the context down can wait forever on a connection whose
                // CURVE handshake the server never finishes (an unlisted key).
                FileHandle.standardError.write(Data("algotrader: no answer from the control socket within \(timeout) s\n".utf8))
                Foundation.exit(ExitStatus.unavailable)
            }
            let reply = (try? JSONSerialization.jsonObject(with: Data(frames[1])) as? [String: Any]) ?? [:]
            guard String(decoding: frames[0], as: UTF8.self) == "ok" else {
                throw Admin.fail("\(command): \(reply["error"] as? String ?? "refused")", status: 1)
            }
            return reply
        }

        func print(_ reply: [String: Any]) throws {
            let data = try JSONSerialization.data(withJSONObject: reply, options: [.prettyPrinted, .sortedKeys])
            Swift.print(String(decoding: data, as: UTF8.self))
        }
    }

    struct Login: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Log in (password from the terminal or stdin); keeps the token for the other commands.")
        @OptionGroup var connection: Connection
        @Argument(help: "Username.") var username: String

        func run() throws {
            let password = try Admin.readSecret(prompt: "password for \(username): ", confirm: false)
            let reply = try connection.call("login", ["username": username, "password": password, "client": "algotrader ctl"], withToken: false)
            guard let token = reply["token"] as? String else { throw Admin.fail("login: no token in the answer", status: 1) }
            let path = connection.tokenPath
            guard FileManager.default.createFile(atPath: path, contents: Data(token.utf8), attributes: [.posixPermissions: 0o600]) else {
                throw Admin.fail("login: cannot write the token to \(path)", status: 1)
            }
            Swift.print("logged in as \(username) (\(reply["role"] as? String ?? "?")) until \(reply["expires_at"] as? String ?? "?")")
        }
    }

    struct Logout: ParsableCommand {
        @OptionGroup var connection: Connection
        func run() throws {
            try connection.print(try connection.call("logout", [:]))
            try? FileManager.default.removeItem(atPath: connection.tokenPath)
        }
    }

    struct Status: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Who you are, halts, running strategies.")
        @OptionGroup var connection: Connection
        func run() throws { try connection.print(try connection.call("status", [:])) }
    }

    struct Strategies: ParsableCommand {
        @OptionGroup var connection: Connection
        @Option(help: "Another user's (admins).") var user: String?
        func run() throws { try connection.print(try connection.call("strategies", user.map { ["user": $0] } ?? [:])) }
    }

    struct Start: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Start a strategy (the daemon reloads at once).")
        @OptionGroup var connection: Connection
        @Argument(help: "The strategy: its id, or a name (among yours; an admin's: anyone's).") var strategy: String
        func run() throws { try connection.print(try connection.call("strategy.start", Ctl.naming(strategy))) }
    }

    struct Stop: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Stop a strategy.")
        @OptionGroup var connection: Connection
        @Argument(help: "The strategy: its id, or a name (among yours; an admin's: anyone's).") var strategy: String
        func run() throws { try connection.print(try connection.call("strategy.stop", Ctl.naming(strategy))) }
    }

    struct Positions: ParsableCommand {
        @OptionGroup var connection: Connection
        @Option(help: "Another user's (admins).") var user: String?
        func run() throws { try connection.print(try connection.call("positions", user.map { ["user": $0] } ?? [:])) }
    }

    struct Orders: ParsableCommand {
        @OptionGroup var connection: Connection
        @Option(help: "Another user's (admins).") var user: String?
        @Option(help: "Only this status (OPEN, FILLED, ...).") var status: String?
        @Option(help: "At most this many, newest first.") var limit: Int = 100
        func run() throws {
            var body: [String: Any] = ["limit": limit]
            if let user { body["user"] = user }
            if let status { body["status"] = status }
            try connection.print(try connection.call("orders", body))
        }
    }

    struct Cancel: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Cancel a working order.")
        @OptionGroup var connection: Connection
        @Argument var orderID: String
        func run() throws { try connection.print(try connection.call("order.cancel", ["order_id": orderID])) }
    }

    struct HaltUser: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "halt",
                                                        abstract: "Halt yourself, one of your strategies, a user (admins) or the engine (admins).")
        @OptionGroup var connection: Connection
        @Option(help: "The user to halt (admins).") var user: String?
        @Option(help: "Halt only this strategy (its id or name).") var strategy: String?
        @Flag(help: "Halt the whole engine (admins).") var engine = false
        @Option(help: "Why.") var reason: String
        func validate() throws {
            if [user != nil, strategy != nil, engine].filter({ $0 }).count > 1 { throw ValidationError("give one of --user, --strategy, --engine") }
        }
        func run() throws {
            var body: [String: Any] = ["reason": reason, "engine": engine]
            if let user { body["user"] = user }
            if let strategy { body.merge(Ctl.naming(strategy)) { $1 } }
            try connection.print(try connection.call("halt", body))
        }
    }

    struct ResumeUser: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "resume", abstract: "Lift a user's, a strategy's or the engine's halts (admins).")
        @OptionGroup var connection: Connection
        @Option(help: "The user.") var user: String?
        @Option(help: "Only this strategy's halts (its id or name).") var strategy: String?
        @Flag(help: "The engine-wide halt.") var engine = false
        func validate() throws {
            if [user != nil, strategy != nil, engine].filter({ $0 }).count > 1 { throw ValidationError("give one of --user, --strategy, --engine") }
        }
        func run() throws {
            var body: [String: Any] = ["engine": engine]
            if let user { body["user"] = user }
            if let strategy { body.merge(Ctl.naming(strategy)) { $1 } }
            try connection.print(try connection.call("resume", body))
        }
    }

    struct Reload: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Make the daemon read strategies, risk settings, brokers and holidays again, as SIGHUP does (admins).",
            discussion: "Answers once the reload is applied, with the strategies running, refused and waiting for their process.")
        @OptionGroup var connection: Connection
        func run() throws { try connection.print(try connection.call("reload", [:])) }
    }

    struct Flatten: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Cancel working orders and close every open position.")
        @OptionGroup var connection: Connection
        @Option(help: "Another user's (admins).") var user: String?
        func run() throws { try connection.print(try connection.call("flatten", user.map { ["user": $0] } ?? [:])) }
    }
}
