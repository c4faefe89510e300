import Foundation
import Security
import Testing

@Suite("Password hashing (scrypt)")
struct PasswordHasherTests {
    let hasher = PasswordHasher(logN: 10)

    @Test func aHashVerifiesItsPasswordAndNoOther() throws {
        let stored = try hasher.hash("correct horse battery staple")
        #expect(stored.hasPrefix("$scrypt$ln=10,r=8,p=1$"))
        #expect(try PasswordHasher.verify("correct horse battery staple", against: stored))
        #expect(try !PasswordHasher.verify("correct horse battery stapler", against: stored))
        #expect(try !PasswordHasher.verify("", against: stored))
    }

    @Test func theSaltIsPerHashAndTheCostIsStoredWithIt() throws {
        let a = try hasher.hash("same"), b = try hasher.hash("same")
        #expect(a != b, "a random salt per hash")
        #expect(PasswordHasher.logN(of: a) == 10)
        let stronger = try PasswordHasher(logN: 11).hash("same")
        #expect(try PasswordHasher.verify("same", against: stronger), "parameters come from the stored hash")
    }

    @Test func emptyPasswordsAndForeignHashesAreRefused() {
        #expect(throws: PasswordHasher.Failure.emptyPassword) { try hasher.hash("") }
        #expect(throws: PasswordHasher.Failure.malformedHash) { try PasswordHasher.verify("x", against: "x") }
        #expect(throws: PasswordHasher.Failure.malformedHash) { try PasswordHasher.verify("x", against: "$2b$12$abcdefghijklmnopqrstuv") }
    }

    @Test func constantTimeComparisonIsEquality() {
        #expect(constantTimeEqual([1, 2, 3], [1, 2, 3]))
        #expect(!constantTimeEqual([1, 2, 3], [1, 2, 4]))
        #expect(!constantTimeEqual([1, 2], [1, 2, 3]))
    }
}

@Suite("Broker credentials under AES-GCM")
struct CredentialCipherTests {
    let user = "0190b5c4-0000-7000-8000-000000000001", broker = "0190b5c4-0000-7000-8000-0000000000b1"

    /// Failed before: a struct holding a key printed its 32 bytes in a test's failure message.
    @Test func aKeyPrintsAsItsIdAloneHoweverItIsDescribed() throws {
        struct Holder { let key: CredentialKey }
        let key = try CredentialKey.generate()
        let secret = Data(key.line.split(separator: ":")[1].utf8)
        let bytes = try #require(Data(base64Encoded: secret)).map { String($0) }
        for text in [String(describing: key), String(reflecting: key), String(describing: Holder(key: key)), "\(Holder(key: key))",
                     String(reflecting: Holder(key: key)), "\(Mirror(reflecting: key).children.map { "\($0.value)" })"] {
            #expect(text.contains(key.id) && !text.contains(bytes.prefix(6).joined(separator: ", ")) && !text.contains(String(decoding: secret, as: UTF8.self)), "\(text)")
        }
    }

    @Test func sealedCredentialsOpenOnlyForTheirOwnRowAndKey() throws {
        let key = try CredentialKey.generate(id: "k1")
        let ring = try CredentialKeyRing(keys: [key])
        let secret = Array(#"{"api_key":"abc","api_secret":"s3cr3t-value"}"#.utf8)
        let stored = try CredentialCipher.seal(secret, key: key, userID: user, brokerID: broker)
        #expect(!stored.contains("s3cr3t-value") && !stored.contains("api_key"), "no plaintext in the stored form")
        #expect(try CredentialCipher.keyID(of: stored) == "k1")
        #expect(try CredentialCipher.open(stored, ring: ring, userID: user, brokerID: broker) == secret)
        #expect(throws: CredentialError.authenticationFailed, "moved to another broker's row") {
            try CredentialCipher.open(stored, ring: ring, userID: user, brokerID: "0190b5c4-0000-7000-8000-0000000000b2")
        }
        #expect(throws: CredentialError.authenticationFailed, "moved to another user's row") {
            try CredentialCipher.open(stored, ring: ring, userID: "0190b5c4-0000-7000-8000-000000000002", brokerID: broker)
        }
        let other = try CredentialKeyRing(keys: [try CredentialKey.generate(id: "k2")])
        #expect(throws: CredentialError.unknownKey("k1")) { try CredentialCipher.open(stored, ring: other, userID: user, brokerID: broker) }
        let impostor = try CredentialKeyRing(keys: [try CredentialKey(id: "k1", bytes: Array(repeating: 7, count: 32))])
        #expect(throws: CredentialError.authenticationFailed, "same id, other key") {
            try CredentialCipher.open(stored, ring: impostor, userID: user, brokerID: broker)
        }
    }

    @Test func anEmptyEnvelopeIsAPaperBrokerWithNothingToDecrypt() throws {
        let ring = try CredentialKeyRing(keys: [try CredentialKey.generate()])
        #expect(try CredentialCipher.open("{}", ring: ring, userID: user, brokerID: broker) == nil)
        #expect(try CredentialCipher.keyID(of: "{}") == nil)
    }

    @Test func keyFilesListTheActiveKeyFirstAndRefuseBadLines() throws {
        let a = try CredentialKey.generate(id: "new"), b = try CredentialKey.generate(id: "old")
        let ring = try CredentialKeyRing(fileContents: "# keys\n\(a.line)\n\n\(b.line)\n")
        #expect(ring.active.id == "new" && ring.keys.map(\.id) == ["new", "old"])
        #expect(throws: CredentialError.self) { try CredentialKeyRing(fileContents: "k:c2hvcnQ=\n") }
        #expect(throws: CredentialError.self) { try CredentialKeyRing(fileContents: "# nothing\n") }
        #expect(try CredentialKey.parse(line: a.line).line == a.line)
    }
}
