import CZeroMQ

/// An owned libzmq context (`zmq_ctx_new` / `zmq_ctx_term`).
///
/// The context is the only libzmq object that may be shared between threads; sockets are not.
// @unchecked Sendable is safe here: libzmq documents `void *context` as thread-safe (zmq_ctx_new(3):
// "A ØMQ context is thread safe and may be shared among as many application threads as
// necessary"), the pointer is immutable after init, and it is released only in deinit, when no
// other reference exists.
public final class ZMQContext: @unchecked Sendable {
    let handle: UnsafeMutableRawPointer

    /// Creates a context with libzmq's defaults (one I/O thread).
    public init(ioThreads: Int32 = 1) throws(ZMQError) {
        guard let handle = zmq_ctx_new() else {
            throw ZMQError(operation: "zmq_ctx_new", code: zmq_errno())
        }
        self.handle = handle
        if ioThreads != 1 {
            _ = zmq_ctx_set(handle, ZMQ_IO_THREADS, ioThreads)
        }
    }

    deinit {
        // zmq_ctx_term blocks until every socket is closed; sockets hold a strong reference to
        // their context, so by the time this runs all of them are gone.
        while zmq_ctx_term(handle) == -1 && zmq_errno() == EINTR {}
    }

    /// Whether this libzmq was built with a capability (`zmq_has`), e.g. `"curve"`.
    public static func has(_ capability: String) -> Bool {
        zmq_has(capability) == 1
    }

    /// The libzmq version as (major, minor, patch).
    public static var version: (major: Int32, minor: Int32, patch: Int32) {
        var major: Int32 = 0, minor: Int32 = 0, patch: Int32 = 0
        zmq_version(&major, &minor, &patch)
        return (major, minor, patch)
    }
}

/// A CURVE key pair in Z85 text (40 characters each), from `zmq_curve_keypair`.
public struct CurveKeyPair: Sendable, Equatable {
    public let publicKey: String
    public let secretKey: String

    public init(publicKey: String, secretKey: String) {
        self.publicKey = publicKey
        self.secretKey = secretKey
    }

    public static func generate() throws(ZMQError) -> CurveKeyPair {
        var pub = [CChar](repeating: 0, count: 41)
        var sec = [CChar](repeating: 0, count: 41)
        _ = try zmqCall("zmq_curve_keypair") { zmq_curve_keypair(&pub, &sec) }
        return CurveKeyPair(
            publicKey: String(decoding: pub.prefix(40).map { UInt8(bitPattern: $0) }, as: UTF8.self),
            secretKey: String(decoding: sec.prefix(40).map { UInt8(bitPattern: $0) }, as: UTF8.self)
        )
    }
}

extension CurveKeyPair {
    /// The pair whose secret key is `secretKey` (Z85): its public key derived (`zmq_curve_public`).
    public init(secretKey: String) throws(ZMQError) {
        guard secretKey.utf8.count == 40 else { throw ZMQError(operation: "zmq_curve_public (a Z85 secret key is 40 characters)", code: EINVAL) }
        var pub = [CChar](repeating: 0, count: 41)
        _ = try zmqCall("zmq_curve_public") { zmq_curve_public(&pub, secretKey) }
        self.init(publicKey: String(decoding: pub.prefix(40).map { UInt8(bitPattern: $0) }, as: UTF8.self), secretKey: secretKey)
    }

    /// 32 raw key bytes as Z85 text (how ZAP hands over a client's key).
    public static func z85(_ key: [UInt8]) -> String? {
        guard key.count == 32 else { return nil }
        var out = [CChar](repeating: 0, count: 41)
        guard zmq_z85_encode(&out, key, 32) != nil else { return nil }
        return String(decoding: out.prefix(40).map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
