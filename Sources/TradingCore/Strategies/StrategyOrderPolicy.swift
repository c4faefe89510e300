/// How a strategy's orders are placed, from its parameters (docs/strategies.md): `product`
/// (MIS, CNC, NRML), `validity` (DAY, IOC) and `max_loss`, its own daily loss limit (net of
/// charges) beyond which the breaker halts it.
public struct StrategyOrderPolicy: Sendable, Equatable {
    public var product: Product?
    public var validity: Validity?
    public var maxLoss: FixedDecimal?

    public init(product: Product? = nil, validity: Validity? = nil, maxLoss: FixedDecimal? = nil) {
        self.product = product
        self.validity = validity
        self.maxLoss = maxLoss
    }

    public init(parameters: StrategyParameters) throws(StrategyConfigurationError) {
        if let text = try parameters.optionalString("product") {
            guard let product = Product(rawValue: text.uppercased()) else {
                throw StrategyConfigurationError(parameter: "product", "must be one of MIS, CNC, NRML, got \(text)")
            }
            self.product = product
        }
        if let text = try parameters.optionalString("validity") {
            guard let validity = Validity(rawValue: text.uppercased()) else {
                throw StrategyConfigurationError(parameter: "validity", "must be DAY or IOC, got \(text)")
            }
            self.validity = validity
        }
        if parameters.values["max_loss"] != nil, parameters.values["max_loss"] != .null {
            let loss = try parameters.decimal("max_loss")
            guard loss.units > 0 else { throw StrategyConfigurationError(parameter: "max_loss", "must be positive, got \(loss)") }
            self.maxLoss = loss
        }
    }
}
