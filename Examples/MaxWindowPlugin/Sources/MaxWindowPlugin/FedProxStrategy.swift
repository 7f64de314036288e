import CoCoFLCore

/// FedProx (Li et al., MLSys 2020): FedAvg whose devices minimise the local loss plus the proximal term
/// µ/2·‖w − w_global‖², which keeps a device's model near the round's global model under heterogeneous data.
/// Every device trains the full model (like FedAvg, as if unconstrained); the server averages.
///
/// A kind of local work no built-in strategy has: it reaches the host's training loop only through
/// `LocalTrainer`'s loss term, with no change to the host. With µ = 0 the term adds exactly zero to every gradient and
/// to the loss, so the run equals fedavg bit for bit.
final class FedProxStrategy: Strategy {
    /// Registry entry; options: `mu` (≥ 0, default 0.01) and `weighting` (uniform | samples).
    static let entry = StrategyEntry(
        id: "fedprox", summary: "FedAvg with the proximal term µ/2·‖w − w_global‖² in the local loss (plugin example)",
        profile: []
    ) { options, environment in
        let mu = try options.double("mu", default: 0.01)
        guard mu >= 0, mu.isFinite else {
            throw StrategyError("option 'mu' of strategy 'fedprox' must be a number ≥ 0 (0 is FedAvg), got \(mu)")
        }
        let weighting: DeviceWeighting
        switch options.string("weighting", default: "uniform") {
        case "uniform": weighting = .uniform
        case "samples": weighting = .sampleCount
        case let other: throw StrategyError("option 'weighting' of strategy 'fedprox' must be 'uniform' or 'samples', got '\(other)'")
        }
        return FedProxStrategy(term: ProximalTerm(mu: Float(mu)), unitCount: environment.unitCount,
                               rule: environment.aggregation.fedAvg(weighting: weighting))
    }

    let term: ProximalTerm
    let unitCount: Int
    let rule: any AggregationRule

    init(term: ProximalTerm, unitCount: Int, rule: any AggregationRule) {
        self.term = term
        self.unitCount = unitCount
        self.rule = rule
    }

    func train(_ device: DeviceRound, with trainer: any LocalTrainer, generator: inout SeededGenerator) throws -> LocalOutcome {
        .trained(try trainer.trainWindow(.full(unitCount: unitCount), lossTerm: term, generator: &generator))
    }

    func aggregate(global: ParameterSet, updates: [PartialUpdate], participantCount: Int) throws -> ParameterSet {
        try rule.aggregate(global: global, updates: updates, participantCount: participantCount)
    }
}

/// µ/2·‖w − w_start‖²: its gradient µ·(w − w_start) is added to each trained tensor's gradient.
struct ProximalTerm: LocalLossTerm {
    let mu: Float

    func addGradient(key: String, weights: UnsafeBufferPointer<Float>, start: UnsafeBufferPointer<Float>,
                     gradient: UnsafeMutableBufferPointer<Float>) -> Double {
        var squares: Float = 0
        for index in 0..<gradient.count {
            let difference = weights[index] - start[index]
            gradient[index] += mu * difference
            squares += difference * difference
        }
        return Double(mu / 2 * squares)
    }
}
