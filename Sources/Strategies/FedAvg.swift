import CoCoFLCore
import NN
import Platform

/// FedAvg: every sampled device trains the full model, as if unconstrained; the server averages. With
/// `dropping` it is device dropping (see DeviceDropping.swift).
public final class FedAvg: Strategy {
    /// Registry entry.
    public static let entry = StrategyEntry(id: "fedavg", summary: "every device trains the full model (ignores limits)", profile: []) { options, environment in
        try FedAvg(weighting: deviceWeighting(options), unitCount: environment.unitCount, dropping: nil)
    }

    let rule: FedAvgAggregation
    let unitCount: Int
    /// Nil for FedAvg; device dropping's sampling otherwise.
    let dropping: DeviceDropping.Sampling?

    init(weighting: DeviceWeighting, unitCount: Int, dropping: DeviceDropping.Sampling?) {
        rule = FedAvgAggregation(weighting: weighting)
        self.unitCount = unitCount
        self.dropping = dropping
    }

    public func isEligible(_ device: DeviceRound) throws -> Bool {
        dropping != .unconstrainedOnly || device.limits.admitFullTraining
    }

    /// Trains the full model; device dropping skips a device whose limits do not admit it.
    public func train(_ device: DeviceRound, with trainer: any LocalTrainer, generator: inout SeededGenerator) throws -> LocalOutcome {
        if dropping != nil && !device.limits.admitFullTraining {
            return .skipped(reason: "limits below full training")
        }
        return .trained(try trainer.trainWindow(.full(unitCount: unitCount), generator: &generator))
    }

    public func aggregate(global: ParameterSet, updates: [PartialUpdate], participantCount: Int) throws -> ParameterSet {
        try rule.aggregate(global: global, updates: updates, participantCount: participantCount)
    }
}

/// Reads the shared `weighting` option: `uniform` (the reference: equal-size shards) or `samples`.
func deviceWeighting(_ options: StrategyOptions) throws -> DeviceWeighting {
    switch options.string("weighting", default: "uniform") {
    case "uniform": return .uniform
    case "samples": return .sampleCount
    case let other: throw StrategyError("option 'weighting' of strategy '\(options.strategyID)' must be 'uniform' or 'samples', got '\(other)'")
    }
}
