import Foundation

/// The Gamma distribution with the given shape and scale 1, sampled by Marsaglia and Tsang's method.
public struct GammaDistribution: Sendable, Hashable {
    /// The shape k > 0; mean and variance are both k.
    public let shape: Double

    /// Throws unless `shape` is positive and finite.
    public init(shape: Double) throws {
        guard shape.isFinite && shape > 0 else {
            throw FederationError(.invalidDistribution, option: "shape",
                                  message: "Gamma shape \(shape) must be a positive finite number")
        }
        self.shape = shape
    }

    /// The mean, equal to the shape.
    public var mean: Double { shape }

    /// The variance, equal to the shape.
    public var variance: Double { shape }

    /// One sample; may underflow to 0 for shapes far below 1 (use `logSample` there).
    public func sample(using generator: inout some RandomNumberGenerator) -> Double {
        exp(logSample(using: &generator))
    }

    /// The logarithm of one sample, exact even where the sample itself underflows (tiny shapes).
    public func logSample(using generator: inout some RandomNumberGenerator) -> Double {
        guard shape < 1 else { return log(Self.marsagliaTsang(shape: shape, using: &generator)) }
        // The shape < 1 boost: if X ~ Gamma(k + 1) and U ~ U(0, 1], then X·U^(1/k) ~ Gamma(k). In logs, because
        // U^(1/k) underflows for small k (α = 0.01 gives U^100).
        let boosted = Self.marsagliaTsang(shape: shape + 1, using: &generator)
        return log(boosted) + log(openUnitInterval(using: &generator)) / shape
    }

    /// Marsaglia & Tsang (2000), "A simple method for generating gamma variables"; needs shape ≥ 1.
    private static func marsagliaTsang(shape: Double, using generator: inout some RandomNumberGenerator) -> Double {
        let d = shape - 1.0 / 3.0
        let c = 1 / (9 * d).squareRoot()
        while true {
            var x: Double
            var v: Double
            repeat {
                x = standardNormal(using: &generator)
                v = 1 + c * x
            } while v <= 0
            v = v * v * v
            let u = openUnitInterval(using: &generator)
            let xSquared = x * x
            // The squeeze accepts most candidates without a logarithm.
            if u < 1 - 0.0331 * xSquared * xSquared { return d * v }
            if log(u) < 0.5 * xSquared + d * (1 - v + log(v)) { return d * v }
        }
    }
}

/// The Dirichlet distribution over the probability simplex, sampled as normalized Gamma variables.
public struct DirichletDistribution: Sendable, Hashable {
    /// The concentration of each component, all positive.
    public let concentration: [Double]

    /// Throws unless there is at least one component and every concentration is positive and finite.
    public init(concentration: [Double]) throws {
        guard !concentration.isEmpty else {
            throw FederationError(.invalidDistribution, option: "concentration",
                                  message: "a Dirichlet distribution needs at least one component")
        }
        for value in concentration where !(value.isFinite && value > 0) {
            throw FederationError(.invalidDistribution, option: "alpha",
                                  message: "Dirichlet concentration \(value) must be a positive finite number; "
                                      + "choose alpha > 0 (0.1 is strongly skewed, 100 nearly uniform)")
        }
        self.concentration = concentration
    }

    /// The symmetric distribution Dir(α·1) over `dimension` components; throws unless α > 0 and dimension ≥ 1.
    public init(symmetric alpha: Double, dimension: Int) throws {
        try self.init(concentration: [Double](repeating: alpha, count: dimension))
    }

    /// The mean of each component, αᵢ / Σα.
    public var mean: [Double] {
        let total = concentration.reduce(0, +)
        return concentration.map { $0 / total }
    }

    /// One point of the simplex: non-negative components that sum to 1.
    public func sample(using generator: inout some RandomNumberGenerator) -> [Double] {
        // Normalize in log space so that small concentrations, whose Gamma draws can all underflow, still give a
        // valid point (the largest component is never 0).
        let logDraws = concentration.map { shape in
            // The concentrations were validated, so the shape is valid.
            GammaDistribution(validShape: shape).logSample(using: &generator)
        }
        let largest = logDraws.max()!
        let scaled = logDraws.map { exp($0 - largest) }
        let total = scaled.reduce(0, +)
        return scaled.map { $0 / total }
    }
}

extension GammaDistribution {
    /// Creates a distribution from a shape already known to be positive and finite.
    init(validShape: Double) {
        precondition(validShape.isFinite && validShape > 0, "Gamma shape must be positive and finite")
        shape = validShape
    }
}

/// A standard normal sample by Marsaglia's polar method.
func standardNormal(using generator: inout some RandomNumberGenerator) -> Double {
    while true {
        let u = Double.random(in: -1..<1, using: &generator)
        let v = Double.random(in: -1..<1, using: &generator)
        let radiusSquared = u * u + v * v
        if radiusSquared > 0 && radiusSquared < 1 {
            return u * (-2 * log(radiusSquared) / radiusSquared).squareRoot()
        }
    }
}

/// A uniform sample from (0, 1], safe to take the logarithm of.
func openUnitInterval(using generator: inout some RandomNumberGenerator) -> Double {
    1 - Double.random(in: 0..<1, using: &generator)
}
