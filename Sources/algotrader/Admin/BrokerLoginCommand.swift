import ArgumentParser
import Engine
import Foundation

extension BrokerCommand {
    /// `algotrader broker login BROKER_ID [--request-token T | --api-session S]`: the broker's
    /// daily login (docs/brokers.md, "The daily login"). Kite and ICICI Direct: without the value
    /// their redirect carries it prints the login page and, on a terminal, asks for it; with one
    /// it trades it for the day's token. Angel One: it logs in with the sealed MPIN and a TOTP it
    /// makes, asking nothing.
    struct Login: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "The daily broker login: Kite's request_token exchange, Angel One's MPIN + TOTP login, or ICICI Direct's API_Session; the session token is stored sealed.",
            discussion: """
                The running engine hands the new token to its gateways and feeds at its next reload \
                (algotrader ctl reload, or systemctl reload algotrader). For zerodha, --request-token \
                takes the token or the whole redirect URL; for icici, --api-session takes the API_Session \
                or the redirect URL; angel needs nothing typed (a timer can run it).
                """)
        @OptionGroup var options: ConfigOptions
        @Argument(help: "The broker id (a zerodha or icici account with api_key and api_secret in its credentials, or an angel one).")
        var brokerID: String
        @Option(help: "The request_token from Kite's redirect (or the redirect URL itself); single use, valid a few minutes.")
        var requestToken: String?
        @Option(help: "ICICI Direct: the API_Session from the login page's redirect (or the redirect URL itself).")
        var apiSession: String?

        func run() throws {
            let config = try Admin.config(options)
            let ring = try Admin.keyRing(config)
            let db = try Admin.connect(config)
            let renewal = BrokerSessionRenewal(db: db, ring: ring,
                                               exchange: KiteSessionExchange(apiRoot: config.kiteAPIURL, loginRoot: config.kiteLoginURL),
                                               angel: AngelSessionLogin(apiRoot: config.angelAPIURL, publicIP: config.angelPublicIP),
                                               icici: IciciSessionLogin(apiRoot: config.iciciAPIURL))
            let apiType: String
            do { apiType = try renewal.apiType(brokerID) } catch let failure as BrokerSessionRenewal.Failure {
                throw Admin.fail("\(failure)", status: ExitStatus.dataError)
            }
            // Each login's value has its own option: one given for another broker's login is a
            // mistake worth saying, not a value to reinterpret.
            if apiType == "icici" {
                guard requestToken == nil else { throw Admin.fail("broker \(brokerID.lowercased()) is icici: give its API_Session with --api-session", status: ExitStatus.usage) }
                return try icici(renewal)
            }
            guard apiSession == nil else { throw Admin.fail("--api-session is for icici accounts; broker \(brokerID.lowercased()) is \(apiType)", status: ExitStatus.usage) }
            if apiType == "angel" { return try angel(renewal) }
            let login: BrokerSessionRenewal.Login
            do { login = try renewal.login(brokerID) } catch let failure as BrokerSessionRenewal.Failure {
                throw Admin.fail("\(failure)", status: ExitStatus.dataError)
            }
            var pasted = requestToken
            if pasted == nil {
                print(renewal.exchange.loginURL(apiKey: login.apiKey))
                guard isatty(STDIN_FILENO) == 1 else { return }
                FileHandle.standardError.write(Data("log in there, then paste the request_token or the redirect URL: ".utf8))
                guard let line = readLine(strippingNewline: true), !line.isEmpty else { return }
                pasted = line
            }
            do {
                let token = try KiteSessionExchange.requestToken(from: pasted ?? "")
                let session = try renewal.renew(login, requestToken: token, actor: Admin.actor)
                print("broker \(login.brokerID): logged in as Kite client \(session.userID)\(session.loginTime.map { " at \($0)" } ?? ""); "
                      + "the access token is stored sealed. Run `algotrader ctl reload` (or systemctl reload algotrader) to hand it to the gateways.")
            } catch let failure as KiteSessionExchange.Failure {
                if case .unreachable = failure { throw Admin.fail("broker \(login.brokerID): \(failure)", status: ExitStatus.unavailable) }
                throw Admin.fail("broker \(login.brokerID): \(failure); nothing was stored", status: ExitStatus.dataError)
            } catch let failure as BrokerSessionRenewal.Failure {
                throw Admin.fail("\(failure)", status: ExitStatus.dataError)
            }
        }

        /// ICICI Direct: the login page, then the API_Session its redirect carries (asked for on a
        /// terminal when not given), traded at Breeze for the day's session token.
        func icici(_ renewal: BrokerSessionRenewal) throws {
            let login: BrokerSessionRenewal.IciciLogin
            do { login = try renewal.iciciLogin(brokerID) } catch let failure as BrokerSessionRenewal.Failure {
                throw Admin.fail("\(failure)", status: ExitStatus.dataError)
            }
            var pasted = apiSession
            if pasted == nil {
                print(renewal.icici.loginURL(apiKey: login.apiKey))
                guard isatty(STDIN_FILENO) == 1 else { return }
                FileHandle.standardError.write(Data("log in there, then paste the API_Session or the redirect URL: ".utf8))
                guard let line = readLine(strippingNewline: true), !line.isEmpty else { return }
                pasted = line
            }
            do {
                let value = try IciciSessionLogin.apiSession(from: pasted ?? "")
                let session = try renewal.renewIcici(login, apiSession: value, actor: Admin.actor)
                print("broker \(login.brokerID): logged in at ICICI Direct as \(session.userID); the session token is stored sealed. "
                      + "Run `algotrader ctl reload` (or systemctl reload algotrader) to hand it to the gateways.")
            } catch let failure as IciciSessionLogin.Failure {
                if case .unreachable = failure { throw Admin.fail("broker \(login.brokerID): \(failure)", status: ExitStatus.unavailable) }
                throw Admin.fail("broker \(login.brokerID): \(failure); nothing was stored", status: ExitStatus.dataError)
            } catch let failure as BrokerSessionRenewal.Failure {
                throw Admin.fail("\(failure)", status: ExitStatus.dataError)
            }
        }

        /// Angel One: MPIN + TOTP, nothing asked.
        func angel(_ renewal: BrokerSessionRenewal) throws {
            do {
                let login = try renewal.angelLogin(brokerID)
                _ = try renewal.renewAngel(login, actor: Admin.actor)
                print("broker \(login.brokerID): logged in at Angel One as client \(login.clientCode); the session tokens are stored sealed. "
                      + "Run `algotrader ctl reload` (or systemctl reload algotrader) to hand them to the gateways.")
            } catch let failure as AngelSessionLogin.Failure {
                if case .unreachable = failure { throw Admin.fail("broker \(brokerID.lowercased()): \(failure)", status: ExitStatus.unavailable) }
                throw Admin.fail("broker \(brokerID.lowercased()): \(failure); nothing was stored", status: ExitStatus.dataError)
            } catch let failure as BrokerSessionRenewal.Failure {
                throw Admin.fail("\(failure)", status: ExitStatus.dataError)
            }
        }
    }
}
