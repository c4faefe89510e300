import Foundation

/// A GET with a body, which is what Breeze's customer details takes (breeze-connect sends
/// `requests.get(url, data=body)`), sent through libcurl itself.
///
/// Why not URLSession like Kite's and Angel's logins: measured with swift 6.3.1 on Linux,
/// FoundationNetworking refuses any GET whose request has a body (`httpBody` or a stream)
/// before sending a byte: "GET method must not have a body", NSURLErrorDataLengthExceedsMaximum
/// (-1103) (its _HTTPURLProtocol.configureEasyHandle checks `httpMethod == "GET"`, and the
/// method is normalised to upper case, so no spelling gets past it); Darwin's does the same.
/// libcurl has no such rule (`curl -X GET -d` sends it), and it is the library FoundationNetworking
/// is built on, so it is on every machine the engine runs on (libcurl4), with its TLS, proxy
/// and timeout handling. Package.swift declares no C module for it, so it is reached with
/// dlopen: the engine already has it loaded through FoundationNetworking. A hand-written
/// HTTP/1.1 client over a socket was the other way, and would have had no TLS for the real
/// https://api.icicidirect.com.
enum BodiedGetRequest {
    struct Problem: Error, CustomStringConvertible {
        let description: String
    }

    /// The answer's body is capped (a customer-details answer is a few hundred bytes).
    static let maxAnswerBytes = 1 << 20

    static func send(url: String, headers: [String], body: [UInt8], timeoutSeconds: Double) throws -> (status: Int, body: Data) {
        #if os(Linux)
        let curl = try LibCurl.load()
        return try curl.get(url: url, headers: headers, body: body, timeoutMilliseconds: Int(timeoutSeconds * 1000))
        #else
        throw Problem(description: "a GET with a body is sent through libcurl, which this build reaches on Linux only")
        #endif
    }
}

#if os(Linux)
/// The few libcurl calls the request needs, looked up in libcurl.so.4. `curl_easy_setopt` and
/// `curl_easy_getinfo` are variadic in C, which Swift cannot call by name; they are called
/// through fixed three-argument types, which on Linux's x86-64 and AArch64 calling conventions
/// pass an integer or pointer third argument in the same register as the variadic call would.
private struct LibCurl {
    typealias Handle = OpaquePointer
    let easyInit: @convention(c) () -> Handle?
    let setLong: @convention(c) (Handle?, Int32, Int) -> Int32
    let setPointer: @convention(c) (Handle?, Int32, UnsafeRawPointer?) -> Int32
    let perform: @convention(c) (Handle?) -> Int32
    let getInfo: @convention(c) (Handle?, Int32, UnsafeMutableRawPointer?) -> Int32
    let cleanup: @convention(c) (Handle?) -> Void
    let strerror: @convention(c) (Int32) -> UnsafePointer<CChar>?
    let listAppend: @convention(c) (OpaquePointer?, UnsafePointer<CChar>?) -> OpaquePointer?
    let listFree: @convention(c) (OpaquePointer?) -> Void

    // curl.h's numbers (stable ABI since libcurl 7.x): option = type base + number.
    static let writeData: Int32 = 10_001, url: Int32 = 10_002, errorBuffer: Int32 = 10_010, postFields: Int32 = 10_015,
               httpHeader: Int32 = 10_023, customRequest: Int32 = 10_036, postFieldSize: Int32 = 60, noSignal: Int32 = 99,
               timeoutMS: Int32 = 155, connectTimeoutMS: Int32 = 156, writeFunction: Int32 = 20_011,
               responseCode: Int32 = 0x200002  // CURLINFO_LONG + 2

    static func load() throws -> LibCurl {
        // Never closed: FoundationNetworking shares this copy, and a dlclose could unload it.
        guard let library = dlopen("libcurl.so.4", RTLD_NOW) else {
            throw BodiedGetRequest.Problem(description: "libcurl.so.4 could not be loaded: " + (dlerror().map { String(cString: $0) } ?? "unknown"))
        }
        func symbol<T>(_ name: String, _: T.Type) throws -> T {
            guard let address = dlsym(library, name) else { throw BodiedGetRequest.Problem(description: "libcurl.so.4 has no \(name)") }
            return unsafeBitCast(address, to: T.self)
        }
        return LibCurl(easyInit: try symbol("curl_easy_init", (@convention(c) () -> Handle?).self),
                       setLong: try symbol("curl_easy_setopt", (@convention(c) (Handle?, Int32, Int) -> Int32).self),
                       setPointer: try symbol("curl_easy_setopt", (@convention(c) (Handle?, Int32, UnsafeRawPointer?) -> Int32).self),
                       perform: try symbol("curl_easy_perform", (@convention(c) (Handle?) -> Int32).self),
                       getInfo: try symbol("curl_easy_getinfo", (@convention(c) (Handle?, Int32, UnsafeMutableRawPointer?) -> Int32).self),
                       cleanup: try symbol("curl_easy_cleanup", (@convention(c) (Handle?) -> Void).self),
                       strerror: try symbol("curl_easy_strerror", (@convention(c) (Int32) -> UnsafePointer<CChar>?).self),
                       listAppend: try symbol("curl_slist_append", (@convention(c) (OpaquePointer?, UnsafePointer<CChar>?) -> OpaquePointer?).self),
                       listFree: try symbol("curl_slist_free_all", (@convention(c) (OpaquePointer?) -> Void).self))
    }

    /// Collects the answer's body for the write callback (used on the calling thread only).
    final class Sink {
        var data = Data()
        var overflowed = false
    }

    func get(url: String, headers: [String], body: [UInt8], timeoutMilliseconds: Int) throws -> (status: Int, body: Data) {
        guard let handle = easyInit() else { throw BodiedGetRequest.Problem(description: "curl_easy_init failed") }
        defer { cleanup(handle) }
        var list: OpaquePointer?
        // "Expect:" keeps curl from waiting for a 100-continue some servers never send.
        for header in headers + ["Expect:"] { list = header.withCString { listAppend(list, $0) } }
        defer { listFree(list) }
        let sink = Sink()
        let context = Unmanaged.passRetained(sink)
        defer { context.release() }
        let write: @convention(c) (UnsafeMutablePointer<CChar>?, Int, Int, UnsafeMutableRawPointer?) -> Int = { bytes, size, count, context in
            guard let bytes, let context else { return 0 }
            let sink = Unmanaged<Sink>.fromOpaque(context).takeUnretainedValue()
            let length = size * count
            // Returning less than was given makes curl stop with CURLE_WRITE_ERROR.
            guard sink.data.count + length <= BodiedGetRequest.maxAnswerBytes else { sink.overflowed = true; return 0 }
            sink.data.append(UnsafeRawPointer(bytes).assumingMemoryBound(to: UInt8.self), count: length)
            return length
        }
        var errorText = [CChar](repeating: 0, count: 256)  // CURL_ERROR_SIZE
        let code: Int32 = errorText.withUnsafeMutableBufferPointer { errorBuffer in
            url.withCString { url in
                "GET".withCString { method in
                    body.withUnsafeBufferPointer { payload in
                        var failed = setPointer(handle, Self.url, url)
                        // POSTFIELDS makes curl send the body; CUSTOMREQUEST keeps the method GET
                        // on the wire (what `curl -X GET -d` does). The body outlives perform().
                        failed |= setLong(handle, Self.postFieldSize, payload.count)
                        failed |= setPointer(handle, Self.postFields, UnsafeRawPointer(payload.baseAddress))
                        failed |= setPointer(handle, Self.customRequest, method)
                        failed |= setPointer(handle, Self.httpHeader, UnsafeRawPointer(list))
                        failed |= setLong(handle, Self.timeoutMS, max(1, timeoutMilliseconds))
                        failed |= setLong(handle, Self.connectTimeoutMS, max(1, timeoutMilliseconds))
                        // No signals: the engine's process is multi-threaded (curl's DNS timeout uses SIGALRM otherwise).
                        failed |= setLong(handle, Self.noSignal, 1)
                        failed |= setPointer(handle, Self.errorBuffer, UnsafeRawPointer(errorBuffer.baseAddress))
                        failed |= setPointer(handle, Self.writeFunction, unsafeBitCast(write, to: UnsafeRawPointer.self))
                        failed |= setPointer(handle, Self.writeData, UnsafeRawPointer(context.toOpaque()))
                        return failed != 0 ? -1 : perform(handle)
                    }
                }
            }
        }
        guard code == 0 else {
            if code == -1 { throw BodiedGetRequest.Problem(description: "libcurl refused an option of the request") }
            if sink.overflowed { throw BodiedGetRequest.Problem(description: "an answer over \(BodiedGetRequest.maxAnswerBytes) bytes") }
            let detail = String(decoding: errorText.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            let summary = strerror(code).map { String(cString: $0) } ?? "curl error \(code)"
            throw BodiedGetRequest.Problem(description: detail.isEmpty ? summary : "\(summary): \(detail)")
        }
        var status = 0
        _ = getInfo(handle, Self.responseCode, &status)
        return (status, sink.data)
    }
}
#endif
