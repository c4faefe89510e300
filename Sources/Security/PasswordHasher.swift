import Crypto
import _CryptoExtras
import Foundation

/// Password hashes for `users.password_hash`: scrypt (memory-hard) with a random 16-byte salt per
/// hash, its parameters stored with it so the cost can rise without breaking old hashes:
///
///     $scrypt$ln=15,r=8,p=1$<salt, base64>$<32-byte key, base64>
///
/// `ln` is log2 of scrypt's N; the default 15 with r=8 uses 32 MiB and about 0.1 s per hash on
/// this machine (`security.password_scrypt_log_n`; tests lower it). Verification compares in
/// constant time.
public struct PasswordHasher: Sendable {
    public let logN: Int
    public let blockSize: Int
    public let parallelism: Int

    public init(logN: Int = 15, blockSize: Int = 8, parallelism: Int = 1) {
        precondition((1...24).contains(logN))
        self.logN = logN
        self.blockSize = blockSize
        self.parallelism = parallelism
    }

    public enum Failure: Error, Equatable, CustomStringConvertible {
        case emptyPassword
        case malformedHash
        case derivation(String)

        public var description: String {
            switch self {
            case .emptyPassword: "the password is empty"
            case .malformedHash: "the stored hash is not a $scrypt$ hash this engine made"
            case .derivation(let why): "scrypt failed: \(why)"
            }
        }
    }

    public func hash(_ password: String) throws(Failure) -> String {
        guard !password.isEmpty else { throw .emptyPassword }
        var salt = [UInt8](repeating: 0, count: 16)
        var rng = SystemRandomNumberGenerator()
        for i in salt.indices { salt[i] = rng.next() }
        let key = try Self.derive(password, salt: salt, logN: logN, r: blockSize, p: parallelism)
        return "$scrypt$ln=\(logN),r=\(blockSize),p=\(parallelism)$\(Data(salt).base64EncodedString())$\(Data(key).base64EncodedString())"
    }

    /// Whether `password` matches `stored` (with the parameters stored in it).
    public static func verify(_ password: String, against stored: String) throws(Failure) -> Bool {
        let parts = stored.split(separator: "$", omittingEmptySubsequences: false)
        guard parts.count == 5, parts[0].isEmpty, parts[1] == "scrypt" else { throw .malformedHash }
        var params: [String: Int] = [:]
        for field in parts[2].split(separator: ",") {
            let kv = field.split(separator: "=")
            guard kv.count == 2, let v = Int(kv[1]) else { throw .malformedHash }
            params[String(kv[0])] = v
        }
        guard let ln = params["ln"], (1...24).contains(ln), let r = params["r"], let p = params["p"],
              let salt = Data(base64Encoded: String(parts[3])), let expected = Data(base64Encoded: String(parts[4])),
              !expected.isEmpty else { throw .malformedHash }
        let key = try derive(password, salt: Array(salt), logN: ln, r: r, p: p, length: expected.count)
        return constantTimeEqual(key, Array(expected))
    }

    /// The cost parameter a stored hash was made with (to rehash on login when it rose).
    public static func logN(of stored: String) -> Int? {
        stored.split(separator: "$").dropFirst().first.flatMap { _ in
            stored.range(of: "ln=").flatMap { r in Int(stored[r.upperBound...].prefix { $0.isNumber }) }
        }
    }

    static func derive(_ password: String, salt: [UInt8], logN: Int, r: Int, p: Int, length: Int = 32) throws(Failure) -> [UInt8] {
        do {
            let key = try KDF.Scrypt.deriveKey(from: Array(password.utf8), salt: salt, outputByteCount: length,
                                               rounds: 1 << logN, blockSize: r, parallelism: p)
            return key.withUnsafeBytes { Array($0) }
        } catch {
            throw .derivation("\(error)")
        }
    }
}

/// Equal length and equal bytes, in time that depends only on the length.
public func constantTimeEqual(_ a: [UInt8], _ b: [UInt8]) -> Bool {
    guard a.count == b.count else { return false }
    var difference: UInt8 = 0
    for i in a.indices { difference |= a[i] ^ b[i] }
    return difference == 0
}
