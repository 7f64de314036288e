/// One resource limit of a device group, as a fraction of what full training needs (1.0 = full training fits).
///
/// Encoded as a bare number for a constant (`0.66`) or as `{"lower": 0.5, "upper": 1.0}` for a uniform draw.
public enum ResourceLimit: Sendable, Hashable, Codable, CustomStringConvertible {
    /// The same fraction every round.
    case constant(Double)
    /// A fraction drawn uniformly from [lower, upper], independently for every device and every round.
    case uniform(lower: Double, upper: Double)

    /// The smallest value a draw can return.
    public var lowerBound: Double {
        switch self {
        case .constant(let value): value
        case .uniform(let lower, _): lower
        }
    }

    /// The largest value a draw can return.
    public var upperBound: Double {
        switch self {
        case .constant(let value): value
        case .uniform(_, let upper): upper
        }
    }

    /// The value for one device in one round; a uniform limit consumes one draw of `generator`, a constant none.
    public func draw(using generator: inout some RandomNumberGenerator) -> Double {
        switch self {
        case .constant(let value): value
        case .uniform(let lower, let upper): Double.random(in: lower...upper, using: &generator)
        }
    }

    /// Throws unless every value is positive and finite and lower ≤ upper; `group` and `field` name the setting.
    public func validate(group: String, field: String) throws {
        let option = "\(group).\(field)"
        func fail(_ problem: String) -> FederationError {
            FederationError(.invalidResourceLimit, option: option,
                            message: "device group '\(group)': \(field) limit \(self) \(problem)")
        }
        guard lowerBound.isFinite && upperBound.isFinite else {
            throw fail("is not a finite number; give a fraction of full training such as 0.66")
        }
        guard lowerBound > 0 && upperBound > 0 else {
            throw fail("must be greater than 0 (it is a fraction of full training; 1.0 means unconstrained)")
        }
        guard lowerBound <= upperBound else {
            throw fail("has its lower bound above its upper bound; swap them so that lower ≤ upper")
        }
    }

    /// "0.66" for a constant, "uniform(0.5, 1.0)" for a uniform limit.
    public var description: String {
        switch self {
        case .constant(let value): "\(value)"
        case .uniform(let lower, let upper): "uniform(\(lower), \(upper))"
        }
    }

    private enum CodingKeys: String, CodingKey {
        case lower, upper
    }

    /// Decodes a bare number as a constant or `{"lower": …, "upper": …}` as a uniform limit.
    public init(from decoder: any Decoder) throws {
        if let container = try? decoder.singleValueContainer(), let value = try? container.decode(Double.self) {
            self = .constant(value)
            return
        }
        let container = try decoder.container(keyedBy: CodingKeys.self)
        self = .uniform(lower: try container.decode(Double.self, forKey: .lower),
                        upper: try container.decode(Double.self, forKey: .upper))
    }

    /// Encodes a constant as a bare number and a uniform limit as `{"lower": …, "upper": …}`.
    public func encode(to encoder: any Encoder) throws {
        switch self {
        case .constant(let value):
            var container = encoder.singleValueContainer()
            try container.encode(value)
        case .uniform(let lower, let upper):
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(lower, forKey: .lower)
            try container.encode(upper, forKey: .upper)
        }
    }
}
