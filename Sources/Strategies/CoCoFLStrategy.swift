import CoCoFLCore
import NN
import Platform

/// CoCoFL: each device picks, at random among the maximal feasible windows of the profile, the units it trains;
/// frozen units run in int8. The server applies the per-parameter rule
/// w ← (|S|/N)·mean_S(w) + (1 − |S|/N)·w_old.
public final class CoCoFLStrategy: Strategy {
    /// Registry entry.
    public static let entry = StrategyEntry(id: "cocofl", summary: "partial freezing + int8 frozen units; window chosen from the profile") { options, environment in
        try CoCoFLStrategy(weighting: deviceWeighting(options), profile: environment.profile)
    }

    let rule: CoCoFLAggregation
    let profile: ModelProfile

    init(weighting: DeviceWeighting, profile: ModelProfile) {
        rule = CoCoFLAggregation(weighting: weighting)
        self.profile = profile
    }

    /// The window this round: one of the maximal feasible windows of the profile, at random; nil when none fits.
    public func window(for device: DeviceRound, generator: inout SeededGenerator) -> TrainedWindow? {
        let limits = device.limits
        return ConfigurationChoice.choose(profile, time: limits.time, memory: limits.memory, upload: limits.upload, using: &generator)
    }

    /// Trains the chosen window: the units before it frozen in int8 (forward only), the units after it frozen in
    /// int8 with an input-gradient backward.
    public func train(_ device: DeviceRound, with trainer: any LocalTrainer, generator: inout SeededGenerator) throws -> LocalOutcome {
        guard let window = window(for: device, generator: &generator) else { return .skipped(reason: "no feasible configuration") }
        return .trained(try trainer.trainWindow(window, generator: &generator))
    }

    public func aggregate(global: ParameterSet, updates: [PartialUpdate], participantCount: Int) throws -> ParameterSet {
        try rule.aggregate(global: global, updates: updates, participantCount: participantCount)
    }
}
