public import Foundation
public import Security
public import Storage
import TradingCore

/// The daily session token of a live account, obtained by the engine (it alone holds the key
/// ring and what a login needs: Kite's api_secret, Angel One's MPIN and TOTP secret) and sealed
/// into the account's credentials under the names its gateway and publisher read from their
/// `welcome` (docs/brokers.md, "The daily login"): Kite's `access_token`; Angel One's
/// `jwt_token` and `feed_token` (and `refresh_token`, which stays in the engine); ICICI Direct's
/// `session_token` and the `user_id` it names. The running engine hands them on at its next
/// reload (SIGHUP or `ctl reload`).
public struct BrokerSessionRenewal {
    public enum Failure: Error, CustomStringConvertible {
        /// The account cannot log in this way (what to do is in the message).
        case unusable(String)
        /// The stored credentials cannot be opened or lack what the login needs.
        case credentials(String)

        public var description: String {
            switch self {
            case let .unusable(why), let .credentials(why): return why
            }
        }
    }

    /// The account's owner and the fields of its credentials a login uses.
    public struct Login: Sendable {
        public let brokerID: String, userID: String, apiKey: String
        let apiSecret: String
        /// Kite's client id if the credentials name one: a login as anyone else is refused.
        let kiteUserID: String?
    }

    /// An Angel One account and what its login uses.
    public struct AngelLogin: Sendable {
        public let brokerID: String, userID: String, apiKey: String, clientCode: String
        let pin: String, totpSecret: String
    }

    /// An ICICI Direct account: the Breeze app's api_key (its api_secret is kept for the gateway,
    /// which signs every Breeze call with it; the login itself does not use it).
    public struct IciciLogin: Sendable {
        public let brokerID: String, userID: String, apiKey: String
    }

    public let db: DatabaseConnection
    public let ring: CredentialKeyRing
    public let exchange: KiteSessionExchange
    public let angel: AngelSessionLogin
    public let icici: IciciSessionLogin

    public init(db: DatabaseConnection, ring: CredentialKeyRing, exchange: KiteSessionExchange,
                angel: AngelSessionLogin = AngelSessionLogin(apiRoot: "https://apiconnect.angelone.in"),
                icici: IciciSessionLogin = IciciSessionLogin(apiRoot: "https://api.icicidirect.com/breezeapi/api/v1")) {
        self.db = db
        self.ring = ring
        self.exchange = exchange
        self.angel = angel
        self.icici = icici
    }

    /// The account's api_type (`zerodha`, `angel`, `icici`), for the command to choose the login.
    public func apiType(_ brokerID: String) throws -> String {
        guard let account = try BrokerDirectory.account(db, brokerID: brokerID) else { throw Failure.unusable("no broker '\(brokerID)'") }
        return account.apiType
    }

    /// An Angel One account with api_key, client_code, pin (the MPIN) and totp_secret.
    public func angelLogin(_ brokerID: String) throws -> AngelLogin {
        guard let account = try BrokerDirectory.account(db, brokerID: brokerID) else { throw Failure.unusable("no broker '\(brokerID)'") }
        let id = brokerID.lowercased()
        guard account.apiType == "angel" else { throw Failure.unusable("broker \(id) is \(account.apiType), not angel") }
        guard account.isActive else { throw Failure.unusable("broker \(id) is disabled") }
        let fields = try credentials(account.sealed, userID: account.userID, brokerID: id)
        var missing: [String] = []
        func field(_ name: String) -> String {
            guard let value = fields[name] as? String, !value.isEmpty else { missing.append(name); return "" }
            return value
        }
        let login = AngelLogin(brokerID: id, userID: account.userID, apiKey: field("api_key"), clientCode: field("client_code"),
                               pin: field("pin"), totpSecret: field("totp_secret"))
        guard missing.isEmpty else {
            throw Failure.credentials("broker \(id): its credentials need \(missing.joined(separator: ", ")) (the SmartAPI app's api_key, "
                                      + "the Angel One client code, its MPIN, and the TOTP secret from smartapi.angelone.in/enable-totp)")
        }
        return login
    }

    /// Logs in at SmartAPI with a TOTP made now and stores the session's tokens.
    public func renewAngel(_ login: AngelLogin, actor: String, now: () -> Date = Date.init) throws -> AngelSessionLogin.Session {
        do { _ = try TimeBasedOneTimePassword.decodeBase32(login.totpSecret) } catch {
            throw Failure.credentials("broker \(login.brokerID): \(error)")
        }
        let secret = login.totpSecret
        let session = try angel.login(apiKey: login.apiKey, clientCode: login.clientCode, pin: login.pin) {
            try TimeBasedOneTimePassword.code(base32Secret: secret, time: now())
        }
        var details = JSONObjectWriter()
        details.add("renewed", "jwt_token")
        details.add("client_code", login.clientCode)
        details.add("key_id", ring.active.id)
        try store(brokerID: login.brokerID, owner: login.userID, actor: actor, details: details.text) { fields in
            fields["jwt_token"] = session.jwtToken
            fields["feed_token"] = session.feedToken
            fields["refresh_token"] = session.refreshToken
        }
        return session
    }

    /// An ICICI Direct account with api_key and api_secret (the secret is checked here although
    /// the login does not send it: without it the gateway could sign no call with the session).
    public func iciciLogin(_ brokerID: String) throws -> IciciLogin {
        guard let account = try BrokerDirectory.account(db, brokerID: brokerID) else { throw Failure.unusable("no broker '\(brokerID)'") }
        let id = brokerID.lowercased()
        guard account.apiType == "icici" else { throw Failure.unusable("broker \(id) is \(account.apiType), not icici") }
        guard account.isActive else { throw Failure.unusable("broker \(id) is disabled") }
        let fields = try credentials(account.sealed, userID: account.userID, brokerID: id)
        guard let apiKey = fields["api_key"] as? String, !apiKey.isEmpty, let secret = fields["api_secret"] as? String, !secret.isEmpty else {
            throw Failure.credentials("broker \(id): its credentials need api_key and api_secret (the Breeze app's, from api.icicidirect.com)")
        }
        return IciciLogin(brokerID: id, userID: account.userID, apiKey: apiKey)
    }

    /// Trades the API_Session for the session token and stores it with the user id it names.
    public func renewIcici(_ login: IciciLogin, apiSession: String, actor: String) throws -> IciciSessionLogin.Session {
        let session = try icici.login(apiKey: login.apiKey, apiSession: apiSession)
        var details = JSONObjectWriter()
        details.add("renewed", "session_token")
        details.add("icici_user_id", session.userID)
        details.add("last_login_time", session.lastLoginTime)
        details.add("key_id", ring.active.id)
        try store(brokerID: login.brokerID, owner: login.userID, actor: actor, details: details.text) { fields in
            fields["session_token"] = session.sessionToken
            fields["user_id"] = session.userID
        }
        return session
    }

    /// The account and its api_key/api_secret; refuses what is not a Kite account with them.
    public func login(_ brokerID: String) throws -> Login {
        guard let account = try BrokerDirectory.account(db, brokerID: brokerID) else { throw Failure.unusable("no broker '\(brokerID)'") }
        let id = brokerID.lowercased()
        guard account.apiType == "zerodha" else {
            throw Failure.unusable("broker \(id) is \(account.apiType): broker login logs in zerodha (Kite Connect), angel (SmartAPI) and icici (Breeze) accounts")
        }
        guard account.isActive else { throw Failure.unusable("broker \(id) is disabled") }
        let fields = try credentials(account.sealed, userID: account.userID, brokerID: id)
        guard let apiKey = fields["api_key"] as? String, !apiKey.isEmpty, let secret = fields["api_secret"] as? String, !secret.isEmpty else {
            throw Failure.credentials("broker \(id): its credentials need api_key and api_secret (the Kite app's, from developers.kite.trade)")
        }
        return Login(brokerID: id, userID: account.userID, apiKey: apiKey, apiSecret: secret, kiteUserID: fields["user_id"] as? String)
    }

    /// Exchanges the request token and stores the access token; returns Kite's session.
    public func renew(_ login: Login, requestToken: String, actor: String) throws -> KiteSessionExchange.Session {
        let session = try exchange.exchange(apiKey: login.apiKey, requestToken: requestToken, apiSecret: login.apiSecret)
        if let expected = login.kiteUserID, !expected.isEmpty, !session.userID.isEmpty, expected.uppercased() != session.userID.uppercased() {
            throw Failure.unusable("Kite logged in client \(session.userID) but broker \(login.brokerID) is client \(expected): "
                                   + "nothing stored (log out of Kite in the browser and log in as \(expected))")
        }
        var details = JSONObjectWriter()
        details.add("renewed", "access_token")
        details.add("kite_user_id", session.userID)
        details.add("login_time", session.loginTime)
        details.add("key_id", ring.active.id)
        try store(brokerID: login.brokerID, owner: login.userID, actor: actor, details: details.text) { fields in
            fields["access_token"] = session.accessToken
        }
        return session
    }

    /// Seals the account's credentials again with `change` applied, audited.
    func store(brokerID: String, owner: String, actor: String, details: String, change: (inout [String: Any]) -> Void) throws {
        try BrokerDirectory.changeCredentials(db, brokerID: brokerID, owner: owner, actor: actor, details: details) { stored in
            // Read again under the row lock: a rotation or a change since the login began is kept.
            var fields = try credentials(stored, userID: owner, brokerID: brokerID)
            change(&fields)
            let plaintext = try JSONSerialization.data(withJSONObject: fields, options: [.sortedKeys])
            return BrokerDirectory.Sealed(text: try CredentialCipher.seal(Array(plaintext), key: ring.active, userID: owner, brokerID: brokerID),
                                          keyID: ring.active.id)
        }
    }

    func credentials(_ sealed: String, userID: String, brokerID: String) throws -> [String: Any] {
        let plaintext: [UInt8]?
        do { plaintext = try CredentialCipher.open(sealed, ring: ring, userID: userID, brokerID: brokerID) } catch {
            throw Failure.credentials("broker \(brokerID): its credentials cannot be opened: \(error)")
        }
        guard let plaintext else { throw Failure.credentials("broker \(brokerID) has no credentials (a paper account)") }
        guard let fields = try? JSONSerialization.jsonObject(with: Data(plaintext)) as? [String: Any] else {
            throw Failure.credentials("broker \(brokerID): its credentials are not a JSON object")
        }
        return fields
    }
}
