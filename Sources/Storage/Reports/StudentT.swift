import Foundation

/// Student's t distribution: the quantiles behind the seed groups' confidence intervals.
public enum StudentT {
    /// The `probability` quantile of the t distribution with `degreesOfFreedom` (> 0) degrees of freedom, e.g.
    /// 4.303 for (0.975, 2). Inverts the CDF by bisection to about 1e-12.
    public static func quantile(probability: Double, degreesOfFreedom: Double) -> Double {
        precondition(probability > 0 && probability < 1 && degreesOfFreedom > 0, "t quantile needs 0 < p < 1 and df > 0")
        if probability < 0.5 { return -quantile(probability: 1 - probability, degreesOfFreedom: degreesOfFreedom) }
        var low = 0.0, high = 1.0
        while cdf(high, degreesOfFreedom: degreesOfFreedom) < probability { high *= 2 }
        for _ in 0..<200 where high - low > 1e-12 * max(1, high) {
            let middle = (low + high) / 2
            if cdf(middle, degreesOfFreedom: degreesOfFreedom) < probability { low = middle } else { high = middle }
        }
        return (low + high) / 2
    }

    /// P(T ≤ t) for `degreesOfFreedom` degrees of freedom: 1 − ½·I_{ν/(ν+t²)}(ν/2, ½) for t ≥ 0.
    public static func cdf(_ t: Double, degreesOfFreedom nu: Double) -> Double {
        let tail = 0.5 * regularizedIncompleteBeta(nu / (nu + t * t), a: nu / 2, b: 0.5)
        return t >= 0 ? 1 - tail : tail
    }

    /// I_x(a, b), by the continued fraction (modified Lentz), using the symmetry I_x(a, b) = 1 − I_{1−x}(b, a)
    /// where the fraction converges faster.
    static func regularizedIncompleteBeta(_ x: Double, a: Double, b: Double) -> Double {
        if x <= 0 { return 0 }
        if x >= 1 { return 1 }
        if x > (a + 1) / (a + b + 2) { return 1 - regularizedIncompleteBeta(1 - x, a: b, b: a) }
        let logBeta: Double = lgamma(a) + lgamma(b) - lgamma(a + b)
        let logPowers: Double = a * log(x) + b * log(1 - x)
        let logFront = logPowers - logBeta
        let tiny = 1e-300
        var c = 1.0, d = 1 - (a + b) * x / (a + 1)
        if abs(d) < tiny { d = tiny }
        d = 1 / d
        var fraction = d
        for m in 1...10_000 {
            let m = Double(m)
            let even = m * (b - m) * x / ((a + 2 * m - 1) * (a + 2 * m))
            d = 1 + even * d; if abs(d) < tiny { d = tiny }
            c = 1 + even / c; if abs(c) < tiny { c = tiny }
            d = 1 / d
            fraction *= d * c
            let odd = -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 2 * m + 1))
            d = 1 + odd * d; if abs(d) < tiny { d = tiny }
            c = 1 + odd / c; if abs(c) < tiny { c = tiny }
            d = 1 / d
            let step = d * c
            fraction *= step
            if abs(step - 1) < 1e-15 { break }
        }
        return exp(logFront) * fraction / a
    }
}
