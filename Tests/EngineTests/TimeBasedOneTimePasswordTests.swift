import Engine
import Foundation
import Testing

/// The TOTP the engine makes for Angel One's login, against RFC 6238's published vectors.
@Suite("TOTP (RFC 6238)")
struct TimeBasedOneTimePasswordTests {
    /// RFC 6238 Appendix B, SHA-1: the secret is the ASCII "12345678901234567890"; the RFC's
    /// 8-digit codes end in these 6 digits.
    @Test(arguments: [(59.0, "287082"), (1_111_111_109, "081804"), (1_111_111_111, "050471"),
                      (1_234_567_890, "005924"), (2_000_000_000, "279037"), (20_000_000_000, "353130")])
    func theCodesAreRFC6238s(seconds: Double, code: String) {
        let secret = Array("12345678901234567890".utf8)
        #expect(TimeBasedOneTimePassword.code(secret: secret, time: Date(timeIntervalSince1970: seconds)) == code)
    }

    @Test func aBase32SecretDecodesAsAuthenticatorAppsReadIt() throws {
        // "12345678901234567890" in base32, as a TOTP page shows it (lower case and spaces allowed).
        let text = "gezd gnbv gy3t qojq gezd gnbv gy3t qojq"
        #expect(try TimeBasedOneTimePassword.decodeBase32(text) == Array("12345678901234567890".utf8))
        #expect(try TimeBasedOneTimePassword.code(base32Secret: text, time: Date(timeIntervalSince1970: 59)) == "287082")
        #expect(throws: TimeBasedOneTimePassword.BadSecret.self) { try TimeBasedOneTimePassword.decodeBase32("GEZD1") }
        #expect(throws: TimeBasedOneTimePassword.BadSecret.self) { try TimeBasedOneTimePassword.decodeBase32("GEZDGNBV") }
    }
}
