import ArgumentParser
import Engine
import Foundation

extension BrokerCommand {
    /// `algotrader broker login BROKER_ID [--request-token T]`: Kite Connect's daily login
    /// (docs/brokers.md, "The daily login"). Without a token it prints the login page and, on a
    /// terminal, asks for what Kite's redirect carried; with one it exchanges it.
    struct Login: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Kite's daily login: print the login URL, then exchange the redirect's request_token for the day's access token (stored sealed).",
            discussion: """
                The running engine hands the new token to its gateways and feeds at its next reload \
                (algotrader ctl reload, or systemctl reload algotrader). --request-token takes the token \
                or the whole redirect URL.
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
                                               exchange: KiteSessionExchange(apiRoot: config.kiteAPIURL, loginRoot: config.kiteLoginURL))
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
    }
}
