import Testing
@testable import ZeroMQ

@Suite("ZeroMQ wrapper against the real libzmq")
struct ZMQSocketTests {
    @Test func pushPullDeliversMultipartFramesIntact() throws {
        let context = try ZMQContext()
        let pull = try ZMQSocket(context: context, type: .pull)
        try pull.bind("tcp://127.0.0.1:*")
        let endpoint = try pull.lastEndpoint()
        #expect(endpoint.hasPrefix("tcp://127.0.0.1:"))
        let push = try ZMQSocket(context: context, type: .push)
        try push.connect(endpoint)
        let big = [UInt8](repeating: 7, count: 300_000)
        #expect(try push.send([Array("topic".utf8), [], big]))
        try pull.setReceiveTimeout(milliseconds: 2000)
        let frames = try #require(try pull.receive())
        #expect(frames.count == 3)
        #expect(frames[0] == Array("topic".utf8))
        #expect(frames[1].isEmpty)
        #expect(frames[2] == big, "a 300 KB frame arrives whole: zmq_msg_recv never truncates")
    }

    /// The control socket records the peer of every request: a ROUTER's routing-id frame carries
    /// no metadata, so the address must come from the frames the peer sent (it was always nil).
    @Test func aRouterSeesThePeerAddressOfATCPClient() throws {
        let context = try ZMQContext()
        let router = try ZMQSocket(context: context, type: .router)
        try router.bind("tcp://127.0.0.1:*")
        let dealer = try ZMQSocket(context: context, type: .dealer)
        try dealer.connect(try router.lastEndpoint())
        #expect(try dealer.send([Array("hello".utf8)]))
        try router.setReceiveTimeout(milliseconds: 2000)
        let message = try #require(try router.receiveMessage())
        #expect(message.frames.count == 2)
        #expect(message.peerAddress == "127.0.0.1")
    }

    @Test func aMessageLargerThanTheSocketsMaximumIsNeverDelivered() throws {
        let context = try ZMQContext()
        let router = try ZMQSocket(context: context, type: .router)
        try router.setMaxMessageSize(1_024)
        try router.bind("tcp://127.0.0.1:*")
        let endpoint = try router.lastEndpoint()
        let big = try ZMQSocket(context: context, type: .dealer)
        try big.connect(endpoint)
        #expect(try big.send([[UInt8](repeating: 1, count: 4_096)]))
        let small = try ZMQSocket(context: context, type: .dealer)
        try small.connect(endpoint)
        #expect(try small.send([Array("ok".utf8)]))
        try router.setReceiveTimeout(milliseconds: 2000)
        let message = try #require(try router.receiveMessage())
        #expect(message.frames.last == Array("ok".utf8), "the oversized message is dropped with its connection, before it is buffered")
    }

    @Test func subscriberReceivesOnlyMatchingTopicPrefix() throws {
        let context = try ZMQContext()
        let pub = try ZMQSocket(context: context, type: .pub)
        try pub.bind("inproc://prefix-test")
        let sub = try ZMQSocket(context: context, type: .sub)
        try sub.connect("inproc://prefix-test")
        try sub.subscribe("tick.")
        try sub.setReceiveTimeout(milliseconds: 100)
        // PUB drops until the subscription arrives: resend until one lands.
        var received: [[UInt8]]?
        for _ in 0..<50 where received == nil {
            try pub.send(topic: "order.x", payload: Array("no".utf8))
            try pub.send(topic: "tick.NSE.INFY", payload: Array("yes".utf8))
            received = try sub.receive()
        }
        let frames = try #require(received)
        #expect(String(decoding: frames[0], as: UTF8.self) == "tick.NSE.INFY")
        #expect(String(decoding: frames[1], as: UTF8.self) == "yes")
    }

    @Test func nonBlockingReceiveOnEmptySocketReturnsNil() throws {
        let context = try ZMQContext()
        let pull = try ZMQSocket(context: context, type: .pull)
        try pull.bind("inproc://empty")
        #expect(try pull.receive(dontWait: true) == nil)
        #expect(try pull.poll(timeoutMilliseconds: 10).isEmpty)
    }

    @Test func bindingAnInvalidEndpointThrowsTypedError() throws {
        let context = try ZMQContext()
        let socket = try ZMQSocket(context: context, type: .pub)
        #expect(throws: ZMQError.self) { try socket.bind("nonsense://x") }
        do {
            try socket.bind("tcp://127.0.0.1:notaport")
            Issue.record("bind should fail")
        } catch {
            #expect(error.operation.hasPrefix("zmq_bind"))
            #expect(error.code != 0)
            #expect(!error.description.isEmpty)
        }
    }

    @Test func closedSocketReportsENOTSOCK() throws {
        let context = try ZMQContext()
        let socket = try ZMQSocket(context: context, type: .push)
        socket.close()
        #expect(throws: ZMQError.self) { try socket.connect("tcp://127.0.0.1:1") }
    }

    @Test func routerDealerCarriesRoutingIdentity() throws {
        let context = try ZMQContext()
        let router = try ZMQSocket(context: context, type: .router)
        try router.setRouterMandatory(true)
        try router.bind("inproc://rd")
        let dealer = try ZMQSocket(context: context, type: .dealer)
        try dealer.setRoutingID(Array("gw-1".utf8))
        try dealer.connect("inproc://rd")
        try dealer.send([Array("hello".utf8)])
        try router.setReceiveTimeout(milliseconds: 2000)
        let frames = try #require(try router.receive())
        #expect(frames == [Array("gw-1".utf8), Array("hello".utf8)])
        try router.send([Array("gw-1".utf8), Array("ack".utf8)])
        try dealer.setReceiveTimeout(milliseconds: 2000)
        #expect(try dealer.receive() == [Array("ack".utf8)])
        #expect(throws: ZMQError.self) { try router.send([Array("nobody".utf8), Array("x".utf8)]) }
    }

    @Test func monitorReportsConnectionAndDisconnection() throws {
        let context = try ZMQContext()
        let pull = try ZMQSocket(context: context, type: .pull)
        try pull.bind("tcp://127.0.0.1:*")
        let endpoint = try pull.lastEndpoint()
        let push = try ZMQSocket(context: context, type: .push)
        let monitor = try push.monitor(endpoint: "inproc://mon-push", events: [.connected, .disconnected])
        try monitor.setReceiveTimeout(milliseconds: 3000)
        try push.connect(endpoint)
        let connected = try #require(try ZMQMonitorEvent.receive(from: monitor))
        #expect(connected.kind == .connected)
        #expect(connected.endpoint == endpoint)
        pull.close()
        let gone = try #require(try ZMQMonitorEvent.receive(from: monitor))
        #expect(gone.kind == .disconnected)
    }

    @Test func curveEncryptedPairExchangesMessages() throws {
        try #require(ZMQContext.has("curve"))
        let server = try CurveKeyPair.generate()
        let client = try CurveKeyPair.generate()
        #expect(server.publicKey.count == 40 && server.secretKey.count == 40)
        let context = try ZMQContext()
        let pull = try ZMQSocket(context: context, type: .pull)
        try pull.setCurveServer(secretKey: server.secretKey)
        try pull.bind("tcp://127.0.0.1:*")
        let push = try ZMQSocket(context: context, type: .push)
        try push.setCurveClient(publicKey: client.publicKey, secretKey: client.secretKey, serverKey: server.publicKey)
        try push.connect(try pull.lastEndpoint())
        try push.send([Array("secret".utf8)])
        try pull.setReceiveTimeout(milliseconds: 3000)
        #expect(try pull.receive() == [Array("secret".utf8)])
    }

    @Test func heartbeatAndHighWaterMarkOptionsAreAccepted() throws {
        let context = try ZMQContext()
        let socket = try ZMQSocket(context: context, type: .sub)
        try socket.setHeartbeat(interval: 1000, timeout: 3000, ttl: 3000)
        try socket.setReceiveHighWaterMark(0)
        try socket.setSendHighWaterMark(1000)
        try socket.setMaxMessageSize(-1)
        try socket.setLinger(milliseconds: 100)
        try socket.setReconnectInterval(milliseconds: 100, max: 1000)
        #expect(try socket.events().isEmpty)
    }
}
