import NN
import Platform

/// CoCoFL: each device picks, at random among the maximal feasible windows of the profile, the units it trains;
/// frozen units run in int8. The server applies the per-parameter rule
/// w ← (|S|/N)·mean_S(w) + (1 − |S|/N)·w_old.
public final class CoCoFL: Strategy {
    /// Registry entry.
    public static let entry = StrategyEntry(id: "cocofl", summary: "partial freezing + int8 frozen units; window chosen from the profile") { options, environment in
        try CoCoFL(weighting: deviceWeighting(options), profile: environment.profile)
    }

    let rule: CoCoFLAggregation
    let profile: ModelProfile

    init(weighting: DeviceWeighting, profile: ModelProfile) {
        rule = CoCoFLAggregation(weighting: weighting)
        self.profile = profile
    }

    public func plan(_ device: DeviceRound, generator: inout SeededGenerator) throws -> LocalPlan {
        let limits = device.limits
        guard let window = ConfigurationChoice.choose(profile, time: limits.time, memory: limits.memory, upload: limits.upload, using: &generator) else {
            return .skip(reason: "no feasible configuration")
        }
        return .window(window)
    }

    public func aggregate(global: ParameterSet, updates: [PartialUpdate], participantCount: Int) throws -> ParameterSet {
        try rule.aggregate(global: global, updates: updates, participantCount: participantCount)
    }
}
