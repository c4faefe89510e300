import ArgumentParser
import Engine
import Foundation

extension BrokerCommand {
    /// `algotrader broker login BROKER_ID [--request-token T]`: the broker's daily login
    /// (docs/brokers.md, "The daily login"). Kite: without a token it prints the login page and,
    /// on a terminal, asks for what Kite's redirect carried; with one it exchanges it. Angel One:
    /// it logs in with the sealed MPIN and a TOTP it makes, asking nothing.
    struct Login: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "The daily broker login: Kite's request_token exchange, or Angel One's MPIN + TOTP login; the session token is stored sealed.",
            discussion: """
                The running engine hands the new token to its gateways and feeds at its next reload \
                (algotrader ctl reload, or systemctl reload algotrader). For zerodha, --request-token \
                takes the token or the whole redirect URL; angel needs nothing typed (a timer can run it).
                """)
        @OptionGroup var options: ConfigOptions
        @Argument(help: "The broker id (a zerodha account with api_key and api_secret in its credentials).") var brokerID: String
        @Option(help: "The request_token from Kite's redirect (or the redirect URL itself); single use, valid a few minutes.")
        var requestToken: String?

        func run() throws {
            let config = try Admin.config(options)
            let ring = try Admin.keyRing(config)
            let db = try Admin.connect(config)
            let renewal = BrokerSessionRenewal(db: db, ring: ring,
                                               exchange: KiteSessionExchange(apiRoot: config.kiteAPIURL, loginRoot: config.kiteLoginURL),
                                               angel: AngelSessionLogin(apiRoot: config.angelAPIURL, publicIP: config.angelPublicIP))
            let apiType: String
            do { apiType = try renewal.apiType(brokerID) } catch let failure as BrokerSessionRenewal.Failure {
                throw Admin.fail("\(failure)", status: ExitStatus.dataError)
            }
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
