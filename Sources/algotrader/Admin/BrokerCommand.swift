import ArgumentParser
import Foundation
import Security
import Storage
import TradingCore
import ZeroMQ

/// `algotrader broker add|list|disable|credentials|login`: broker accounts, their credentials sealed
/// with AES-256-GCM under the key ring (docs/security.md).
struct BrokerCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "broker", abstract: "Manage broker accounts and their encrypted credentials.",
        subcommands: [Add.self, List.self, Disable.self, Credentials.self, Login.self])

    struct Add: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Add a broker account. Credentials (a JSON object) come from --credentials-file or stdin (--credentials-stdin), never arguments; a paper account needs none.")
        @OptionGroup var options: ConfigOptions
        @Option(help: "Owner: username or user id.") var user: String
        @Option(help: "A name for the account.") var name: String
        @Option(help: "zerodha, angel or icici.") var apiType: String
        @Option(help: "paper (simulated) or live (through a gateway).") var mode: String = "paper"
        @Option(help: "A file holding the credentials JSON object.") var credentialsFile: String?
        @Flag(help: "Read the credentials JSON object from standard input.") var credentialsStdin = false

        func validate() throws {
            guard ["zerodha", "angel", "icici"].contains(apiType) else { throw ValidationError("--api-type must be zerodha, angel or icici") }
            guard ["paper", "live"].contains(mode) else { throw ValidationError("--mode must be paper or live") }
            guard credentialsFile == nil || !credentialsStdin else { throw ValidationError("give --credentials-file or --credentials-stdin, not both") }
        }

        func run() throws {
            let config = try Admin.config(options)
            var secret: [UInt8]?
            if let path = credentialsFile {
                guard let data = FileManager.default.contents(atPath: path) else { throw Admin.fail("cannot read '\(path)'") }
                secret = Array(data)
            } else if credentialsStdin {
                secret = Array(FileHandle.standardInput.readDataToEndOfFile())
            }
            if let bytes = secret {
                guard (try? JSONSerialization.jsonObject(with: Data(bytes))) is [String: Any] else {
                    throw Admin.fail("the credentials must be a JSON object")
                }
            }
            guard mode == "paper" || secret != nil else { throw Admin.fail("a live account needs credentials (--credentials-file or --credentials-stdin)") }
            // The key is needed only when there is something to encrypt.
            let ring = try secret.map { _ in try Admin.keyRing(config) }
            let db = try Admin.connect(config)
            let userID = try Admin.userID(user, db)
            let brokerID = try BrokerDirectory.add(
                db, userID: userID, name: name, apiType: apiType, mode: mode, actor: Admin.actor,
                auditDetails: Admin.json(["api_type": apiType, "mode": mode, "credentials": secret == nil ? "none" : "sealed",
                                          "key_id": secret == nil ? nil : ring?.active.id])) { id in
                guard let secret, let ring else { return nil }
                return BrokerDirectory.Sealed(text: try CredentialCipher.seal(secret, key: ring.active, userID: userID, brokerID: id),
                                              keyID: ring.active.id)
            }
            print("added \(mode) \(apiType) broker \(name) (\(brokerID)) for \(user)")
        }
    }

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List broker accounts (never their credentials).")
        @OptionGroup var options: ConfigOptions
        @Option(help: "Only this user's (username or id).") var user: String?

        func run() throws {
            let db = try Admin.connect(try Admin.config(options))
            let userID = try user.map { try Admin.userID($0, db) }
            let rows = try BrokerDirectory.list(db, userID: userID).map { b -> [String?] in
                [b.brokerID, b.username, b.name, b.apiType, b.mode, b.isActive ? "active" : "disabled", b.hasCredentials ? b.keyID ?? "?" : "-"]
            }
            Admin.table(["BROKER_ID", "USER", "NAME", "API", "MODE", "STATE", "KEY_ID"], rows)
        }
    }

    struct Disable: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Disable a broker account (its strategies stop resolving to it at the next reload).")
        @OptionGroup var options: ConfigOptions
        @Argument(help: "The broker id.") var brokerID: String

        func run() throws {
            let db = try Admin.connect(try Admin.config(options))
            guard let owner = try BrokerDirectory.owner(db, brokerID: brokerID) else { throw Admin.fail("no broker '\(brokerID)'") }
            try BrokerDirectory.disable(db, brokerID: brokerID, owner: owner, actor: Admin.actor)
            print("disabled broker \(brokerID)")
        }
    }

    struct Credentials: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print a live account's decrypted credentials (for its gateway, e.g. piped into it); the read is audited.")
        @OptionGroup var options: ConfigOptions
        @Argument(help: "The broker id.") var brokerID: String

        func run() throws {
            let config = try Admin.config(options)
            let db = try Admin.connect(config)
            guard let (userID, stored) = try BrokerDirectory.sealedCredentials(db, brokerID: brokerID) else {
                throw Admin.fail("no broker '\(brokerID)'")
            }
            guard try CredentialCipher.keyID(of: stored) != nil else { throw Admin.fail("broker \(brokerID) has no credentials (a paper account)") }
            let ring = try Admin.keyRing(config)
            let plaintext: [UInt8]
            do {
                plaintext = try CredentialCipher.open(stored, ring: ring, userID: userID, brokerID: brokerID.lowercased()) ?? []
            } catch {
                throw Admin.fail("broker \(brokerID): \(error)", status: ExitStatus.dataError)
            }
            try AuditLog.record(db, actor: Admin.actor, action: .credentialsRead, targetUserID: userID, target: brokerID.lowercased())
            FileHandle.standardOutput.write(Data(plaintext))
        }
    }
}

/// `algotrader keys generate|rotate|curve`.
struct KeysCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "keys", abstract: "Key-encryption keys for broker credentials, and CURVE key pairs for the sockets.",
        subcommands: [Generate.self, Rotate.self, Curve.self])

    /// A CURVE key pair for the engine (security.curve_secret_key_file) or for a client (a
    /// gateway, a subscriber, an operator's ctl): the secret goes to a file only its owner reads,
    /// the public key to stdout, for the allow-list of the socket the client needs.
    struct Curve: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Make a CURVE key pair: the secret key (Z85) into --secret-file (mode 0600), the public key printed.")
        @Option(help: "Where to write the secret key (refused if it exists).") var secretFile: String

        func run() throws {
            let pair = try CurveKeyPair.generate()
            guard !FileManager.default.fileExists(atPath: secretFile) else { throw Admin.fail("\(secretFile) exists: choose a new file", status: 64) }
            guard FileManager.default.createFile(atPath: secretFile, contents: Data((pair.secretKey + "\n").utf8), attributes: [.posixPermissions: 0o600]) else {
                throw Admin.fail("cannot write \(secretFile)")
            }
            print(pair.publicKey)
        }
    }

    struct Generate: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print a new random key as 'KEY_ID:BASE64' (put it first in the key file, then run 'keys rotate').")
        @Option(help: "The key id (default: the UTC time and a random suffix).") var id: String?

        func run() throws {
            do {
                print(try CredentialKey.generate(id: id).line)
            } catch {
                throw Admin.fail("\(error)")
            }
        }
    }

    struct Rotate: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Re-encrypt every broker's credentials under the key ring's active (first) key, in one transaction.")
        @OptionGroup var options: ConfigOptions

        func run() throws {
            let config = try Admin.config(options)
            let ring = try Admin.keyRing(config)
            let db = try Admin.connect(config)
            let (rotated, current) = try BrokerDirectory.reseal(db, { broker, user, stored in
                if try CredentialCipher.keyID(of: stored) == ring.active.id { return nil }
                let plaintext: [UInt8]
                do {
                    plaintext = try CredentialCipher.open(stored, ring: ring, userID: user, brokerID: broker) ?? []
                } catch {
                    throw Admin.fail("broker \(broker): \(error); nothing was changed", status: ExitStatus.dataError)
                }
                return BrokerDirectory.Sealed(text: try CredentialCipher.seal(plaintext, key: ring.active, userID: user, brokerID: broker),
                                              keyID: ring.active.id)
            }, audit: { rotated, current, conn in
                try AuditLog.record(conn, actor: Admin.actor, action: .keysRotated, target: ring.active.id,
                                    details: JSONObjectWriter.object { $0.add("rotated", rotated); $0.add("already_current", current) })
            })
            print("re-encrypted \(rotated) broker(s) under key \(ring.active.id); \(current) already under it")
        }
    }
}
