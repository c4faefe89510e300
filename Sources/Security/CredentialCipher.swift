import Crypto
import Foundation

/// One key-encryption key: an id (stored with every ciphertext) and 32 bytes for AES-256-GCM.
public struct CredentialKey: Sendable {
    public let id: String
    /// Raw bytes (SymmetricKey is not Sendable in this swift-crypto); a SymmetricKey is made per use.
    let bytes: [UInt8]
    var key: SymmetricKey { SymmetricKey(data: bytes) }

    public init(id: String, bytes: [UInt8]) throws(CredentialError) {
        guard bytes.count == 32 else { throw .badKey("key '\(id)' must be 32 bytes, got \(bytes.count)") }
        guard !id.isEmpty, id.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" }) else {
            throw .badKey("key id '\(id)' must be letters, digits, '-' or '_'")
        }
        self.id = id
        self.bytes = bytes
    }

    /// A new random key; `id` defaults to the UTC date and time and a random suffix.
    public static func generate(id: String? = nil) throws(CredentialError) -> CredentialKey {
        var rng = SystemRandomNumberGenerator()
        let bytes = (0..<32).map { _ in UInt8.random(in: 0...255, using: &rng) }
        let stamp = ISO8601DateFormatter().string(from: Date()).filter { $0.isNumber }.prefix(12)
        return try CredentialKey(id: id ?? "k\(stamp)-\(String(UInt16.random(in: 0...0xffff, using: &rng), radix: 16))", bytes: bytes)
    }

    /// `id:base64`, the line format of key files and of the environment variable.
    public var line: String { "\(id):\(Data(bytes).base64EncodedString())" }

    public static func parse(line: String) throws(CredentialError) -> CredentialKey {
        let trimmed = line.trimmingCharacters(in: .whitespacesAndNewlines)
        guard let colon = trimmed.firstIndex(of: ":"), let data = Data(base64Encoded: String(trimmed[trimmed.index(after: colon)...])) else {
            throw .badKey("expected 'KEY_ID:BASE64_32_BYTES'")
        }
        return try CredentialKey(id: String(trimmed[..<colon]), bytes: Array(data))
    }
}

/// A key prints as its id only: a key reached a test's failure message through a struct's default
/// description (every field, the 32 bytes too), and logs or crash reports would do the same.
extension CredentialKey: CustomStringConvertible, CustomDebugStringConvertible, CustomReflectable {
    public var description: String { "CredentialKey(\(id))" }
    public var debugDescription: String { description }
    public var customMirror: Mirror { Mirror(self, children: ["id": id], displayStyle: .struct) }
}

public enum CredentialError: Error, Equatable, CustomStringConvertible {
    case badKey(String)
    case noKey(String)
    case unknownKey(String)
    case malformed(String)
    case authenticationFailed

    public var description: String {
        switch self {
        case .badKey(let why): "bad credentials key: \(why)"
        case .noKey(let why): "no credentials key: \(why)"
        case .unknownKey(let id): "the credentials were encrypted under key '\(id)', which is not in the key ring"
        case .malformed(let why): "stored credentials are malformed: \(why)"
        case .authenticationFailed: "the credentials do not decrypt: wrong key, or the ciphertext was altered or moved to another row"
        }
    }
}

/// The keys the engine can decrypt with; the first is the one new ciphertexts use.
public struct CredentialKeyRing: Sendable {
    public let keys: [CredentialKey]

    public init(keys: [CredentialKey]) throws(CredentialError) {
        guard !keys.isEmpty else { throw .noKey("the key ring is empty") }
        self.keys = keys
    }

    /// A key file: one `id:base64` per line, the active key first; blank lines and `#` comments
    /// ignored. Older keys stay listed until `algotrader keys rotate` re-encrypted their rows.
    public init(fileContents: String) throws(CredentialError) {
        var keys: [CredentialKey] = []
        for line in fileContents.split(whereSeparator: \.isNewline) {
            let text = line.trimmingCharacters(in: .whitespaces)
            if text.isEmpty || text.hasPrefix("#") { continue }
            keys.append(try CredentialKey.parse(line: text))
        }
        try self.init(keys: keys)
    }

    public var active: CredentialKey { keys[0] }

    func key(_ id: String) -> CredentialKey? { keys.first { $0.id == id } }
}

/// Broker credentials in `brokers.api_credentials_encrypted`: AES-256-GCM under a key-encryption
/// key, with the user and broker ids as associated data, so a ciphertext copied to another row
/// fails to decrypt. Stored as a JSON envelope:
///
///     {"v":1,"alg":"AES-256-GCM","kid":"...","nonce":"<b64>","ciphertext":"<b64>","tag":"<b64>"}
///
/// A paper broker's `'{}'` holds no credentials and needs no key.
public enum CredentialCipher {
    static func associatedData(userID: String, brokerID: String) -> [UInt8] {
        Array("algotrader/broker-credentials/v1|\(userID.lowercased())|\(brokerID.lowercased())".utf8)
    }

    public static func seal(_ plaintext: [UInt8], key: CredentialKey, userID: String, brokerID: String) throws -> String {
        let box = try AES.GCM.seal(plaintext, using: key.key, authenticating: associatedData(userID: userID, brokerID: brokerID))
        let envelope: [String: Any] = [
            "v": 1, "alg": "AES-256-GCM", "kid": key.id,
            "nonce": Data(box.nonce).base64EncodedString(),
            "ciphertext": box.ciphertext.base64EncodedString(),
            "tag": box.tag.base64EncodedString(),
        ]
        return String(decoding: try JSONSerialization.data(withJSONObject: envelope, options: [.sortedKeys]), as: UTF8.self)
    }

    /// The key id of a stored envelope, or nil for an empty (`{}`) one.
    public static func keyID(of stored: String) throws(CredentialError) -> String? {
        guard let object = try? JSONSerialization.jsonObject(with: Data(stored.utf8)) as? [String: Any] else {
            throw .malformed("not a JSON object")
        }
        if object.isEmpty { return nil }
        guard let kid = object["kid"] as? String else { throw .malformed("no kid") }
        return kid
    }

    /// The plaintext, or nil when nothing is stored (`{}`).
    public static func open(_ stored: String, ring: CredentialKeyRing, userID: String, brokerID: String) throws(CredentialError) -> [UInt8]? {
        guard let object = try? JSONSerialization.jsonObject(with: Data(stored.utf8)) as? [String: Any] else {
            throw .malformed("not a JSON object")
        }
        if object.isEmpty { return nil }
        guard object["v"] as? Int == 1, object["alg"] as? String == "AES-256-GCM", let kid = object["kid"] as? String,
              let nonce = (object["nonce"] as? String).flatMap({ Data(base64Encoded: $0) }),
              let ciphertext = (object["ciphertext"] as? String).flatMap({ Data(base64Encoded: $0) }),
              let tag = (object["tag"] as? String).flatMap({ Data(base64Encoded: $0) }) else {
            throw .malformed("expected v, alg, kid, nonce, ciphertext, tag")
        }
        guard let key = ring.key(kid) else { throw .unknownKey(kid) }
        do {
            let box = try AES.GCM.SealedBox(nonce: AES.GCM.Nonce(data: nonce), ciphertext: ciphertext, tag: tag)
            return Array(try AES.GCM.open(box, using: key.key, authenticating: associatedData(userID: userID, brokerID: brokerID)))
        } catch {
            throw .authenticationFailed
        }
    }
}
