import ArgumentParser
import Foundation
import Security
import Storage

/// `algotrader user add|list|disable|enable|passwd`.
struct UserCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "user", abstract: "Manage users (roles trader, investor, admin).",
        subcommands: [Add.self, List.self, Disable.self, Enable.self, Passwd.self])

    struct Add: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Add a user; the password is read from the terminal (or the first line of stdin).")
        @OptionGroup var options: ConfigOptions
        @Argument(help: "Username (1-50 characters).") var username: String
        @Option(help: "E-mail address.") var email: String
        @Option(help: "trader, investor or admin.") var role: String = "trader"

        func validate() throws {
            guard ["trader", "investor", "admin"].contains(role) else { throw ValidationError("--role must be trader, investor or admin") }
            // Names appear in listings, logs and audit rows, one per line: letters, digits and . _ - @ only.
            guard (1...50).contains(username.count),
                  username.unicodeScalars.allSatisfy({ $0.properties.isAlphabetic || ("0"..."9").contains($0) || "._-@".unicodeScalars.contains($0) })
            else {
                throw ValidationError("the username must be 1-50 characters: letters, digits, '.', '_', '-' or '@' (no spaces or control characters)")
            }
            guard (3...254).contains(email.count), email.contains("@"),
                  !email.unicodeScalars.contains(where: { $0.properties.isWhitespace || $0.value < 0x20 || $0.value == 0x7F }) else {
                throw ValidationError("the e-mail address must be 3-254 characters with an '@' and no spaces or control characters")
            }
        }

        func run() throws {
            let config = try Admin.config(options)
            let db = try Admin.connect(config)
            let password = try Admin.readSecret(prompt: "password for \(username): ", confirm: true)
            let hash = try PasswordHasher(logN: config.passwordScryptLogN).hash(password)
            guard let id = try UserDirectory.add(db, username: username, email: email, passwordHash: hash, role: role, actor: Admin.actor,
                                                 auditDetails: Admin.json(["role": role, "username": username])) else {
                throw Admin.fail("a user named '\(username)' or with e-mail '\(email)' exists")
            }
            print("added \(role) \(username) (\(id))")
        }
    }

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List users.")
        @OptionGroup var options: ConfigOptions

        func run() throws {
            let db = try Admin.connect(try Admin.config(options))
            let rows = try UserDirectory.list(db).map { u -> [String?] in
                [u.userID, u.username, u.email, u.role, u.isActive ? "active" : "disabled", u.lastLogin ?? "-"]
            }
            Admin.table(["USER_ID", "USERNAME", "EMAIL", "ROLE", "STATE", "LAST_LOGIN"], rows)
        }
    }

    static func setActive(_ options: ConfigOptions, _ user: String, _ active: Bool) throws {
        let db = try Admin.connect(try Admin.config(options))
        let id = try Admin.userID(user, db)
        try UserDirectory.setActive(db, userID: id, active: active, actor: Admin.actor)  // its sessions end with it
        print("\(active ? "enabled" : "disabled") \(user)")
    }

    struct Disable: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Disable a user: no login, its sessions end, its strategies stop at the next reload.")
        @OptionGroup var options: ConfigOptions
        @Argument(help: "Username or user id.") var user: String
        func run() throws { try UserCommand.setActive(options, user, false) }
    }

    struct Enable: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Enable a disabled user.")
        @OptionGroup var options: ConfigOptions
        @Argument(help: "Username or user id.") var user: String
        func run() throws { try UserCommand.setActive(options, user, true) }
    }

    struct Passwd: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Set a user's password (read from the terminal or stdin); ends its sessions.")
        @OptionGroup var options: ConfigOptions
        @Argument(help: "Username or user id.") var user: String

        func run() throws {
            let config = try Admin.config(options)
            let db = try Admin.connect(config)
            let id = try Admin.userID(user, db)
            let password = try Admin.readSecret(prompt: "new password for \(user): ", confirm: true)
            let hash = try PasswordHasher(logN: config.passwordScryptLogN).hash(password)
            try UserDirectory.setPassword(db, userID: id, passwordHash: hash, actor: Admin.actor)
            print("password changed for \(user)")
        }
    }
}
