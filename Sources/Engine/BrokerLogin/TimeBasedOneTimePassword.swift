import Crypto
public import Foundation

/// RFC 6238 time-based one-time passwords (HMAC-SHA1, 30-second steps, 6 digits: what Angel
/// One's SmartAPI login asks for, from the base32 secret its "enable TOTP" page shows). The
/// engine makes them itself so the daily login needs no phone: the secret is sealed with the
/// account's credentials and never leaves the engine.
public enum TimeBasedOneTimePassword {
    public struct BadSecret: Error, CustomStringConvertible {
        public let description: String
    }

    /// The code for `time` (RFC 4226's dynamic truncation of HMAC-SHA1 over the step counter).
    public static func code(secret: [UInt8], time: Date, step: Int = 30, digits: Int = 6) -> String {
        let counter = UInt64(max(0, time.timeIntervalSince1970) / Double(step))
        var message = [UInt8](repeating: 0, count: 8)
        for index in 0..<8 { message[index] = UInt8(truncatingIfNeeded: counter >> (56 - 8 * UInt64(index))) }
        let mac = Array(HMAC<Insecure.SHA1>.authenticationCode(for: message, using: SymmetricKey(data: secret)))
        let offset = Int(mac[mac.count - 1] & 0x0f)
        let value = (UInt32(mac[offset] & 0x7f) << 24) | (UInt32(mac[offset + 1]) << 16)
            | (UInt32(mac[offset + 2]) << 8) | UInt32(mac[offset + 3])
        var modulus: UInt32 = 1
        for _ in 0..<digits { modulus *= 10 }
        let text = String(value % modulus)
        return String(repeating: "0", count: max(0, digits - text.count)) + text
    }

    /// The code for a base32 secret (RFC 4648; case, spaces and `=` padding ignored, as
    /// authenticator apps accept it).
    public static func code(base32Secret: String, time: Date) throws -> String {
        code(secret: try decodeBase32(base32Secret), time: time)
    }

    public static func decodeBase32(_ text: String) throws -> [UInt8] {
        let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567")
        var bits: UInt64 = 0
        var count = 0
        var bytes: [UInt8] = []
        for character in text.uppercased() where character != " " && character != "=" && character != "-" {
            guard let index = alphabet.firstIndex(of: character) else {
                // The character is not named: it is part of a secret.
                throw BadSecret(description: "the TOTP secret is not base32 (A-Z and 2-7)")
            }
            bits = (bits << 5) | UInt64(index)
            count += 5
            if count >= 8 {
                count -= 8
                bytes.append(UInt8(truncatingIfNeeded: bits >> UInt64(count)))
            }
        }
        guard bytes.count >= 10 else { throw BadSecret(description: "the TOTP secret is too short (\(bytes.count) bytes; at least 10)") }
        return bytes
    }
}
