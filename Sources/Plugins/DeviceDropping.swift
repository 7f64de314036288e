import NN
import Platform

/// Device dropping: only devices whose limits admit full training take part; the rest sit the round out.
public final class DeviceDropping: Strategy {
    /// Registry entry.
    public static let entry = StrategyEntry(id: "device-dropping", summary: "only devices that can train the full model take part") { options, environment in
        try DeviceDropping(weighting: deviceWeighting(options), unitCount: environment.unitCount)
    }

    let rule: FedAvgAggregation
    let unitCount: Int

    init(weighting: DeviceWeighting, unitCount: Int) {
        rule = FedAvgAggregation(weighting: weighting)
        self.unitCount = unitCount
    }

    public func plan(_ device: DeviceRound, generator: inout SeededGenerator) throws -> LocalPlan {
        let limits = device.limits
        guard limits.time >= 1, limits.memory >= 1, limits.upload >= 1 else {
            return .skip(reason: "limits below full training")
        }
        return .window(.full(unitCount: unitCount))
    }

    public func aggregate(global: ParameterSet, updates: [PartialUpdate], participantCount: Int) throws -> ParameterSet {
        try rule.aggregate(global: global, updates: updates, participantCount: participantCount)
    }
}
