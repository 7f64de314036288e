import CoCoFLCore

#if canImport(Glibc)
    import Glibc
#endif

/// CoCoFL with a greedy window choice: among the device's maximal feasible windows it trains the one with the most
/// trained parameters (the profile's upload bytes), instead of a random one. Ties are broken with the device's
/// seeded generator, so runs stay reproducible. Aggregation is CoCoFL's per-key rule from the host.
///
/// Why a variant worth having: CoCoFL's random choice spreads training over the model's units; the greedy choice
/// trains as much as each device can, which tells how much of CoCoFL's accuracy comes from coverage and how much
/// from sheer trained volume.
final class MaxWindowStrategy: Strategy {
    /// Registry entry; options: `weighting` (uniform | samples) and the test hooks `fail_at_round` and
    /// `crash_at_round`.
    static let entry = StrategyEntry(
        id: "cocofl-max-window",
        summary: "CoCoFL that trains the feasible window with the most parameters (plugin example)"
    ) { options, environment in
        let weighting: DeviceWeighting
        switch options.string("weighting", default: "uniform") {
        case "uniform": weighting = .uniform
        case "samples": weighting = .sampleCount
        case let other:
            throw StrategyError("option 'weighting' of strategy 'cocofl-max-window' must be 'uniform' or 'samples', got '\(other)'")
        }
        // A test hook: make `plan` throw at this round, to check that a failing plugin marks its run failed.
        let failAtRound = try options.integer("fail_at_round", default: 0)
        guard failAtRound >= 0 else {
            throw StrategyError("option 'fail_at_round' of strategy 'cocofl-max-window' must be a round number ≥ 1 (0 = never), got \(failAtRound)")
        }
        // A test hook: crash the process (SIGSEGV) at this round, as a buggy plugin would, to check that a worker
        // process dying takes only its own run down.
        let crashAtRound = try options.integer("crash_at_round", default: 0)
        guard crashAtRound >= 0 else {
            throw StrategyError("option 'crash_at_round' of strategy 'cocofl-max-window' must be a round number ≥ 1 (0 = never), got \(crashAtRound)")
        }
        return MaxWindowStrategy(
            profile: environment.profile, rule: environment.aggregation.cocofl(weighting: weighting),
            failAtRound: failAtRound == 0 ? nil : failAtRound, crashAtRound: crashAtRound == 0 ? nil : crashAtRound)
    }

    let profile: ModelProfile
    let rule: any AggregationRule
    let failAtRound: Int?
    let crashAtRound: Int?

    init(profile: ModelProfile, rule: any AggregationRule, failAtRound: Int?, crashAtRound: Int?) {
        self.profile = profile
        self.rule = rule
        self.failAtRound = failAtRound
        self.crashAtRound = crashAtRound
    }

    /// Trains the maximal feasible window with the most upload bytes (a random one of them when several tie).
    func train(_ device: DeviceRound, with trainer: any LocalTrainer, generator: inout SeededGenerator) throws -> LocalOutcome {
        guard let window = try window(for: device, generator: &generator) else { return .skipped(reason: "no feasible configuration") }
        return .trained(try trainer.trainWindow(window, generator: &generator))
    }

    /// The maximal feasible window with the most upload bytes; a random one of them when several tie; nil when none
    /// fits the device's limits.
    func window(for device: DeviceRound, generator: inout SeededGenerator) throws -> TrainedWindow? {
        if let failAtRound, device.round == failAtRound {
            throw StrategyError("cocofl-max-window failed on purpose at round \(failAtRound) (option fail_at_round, a test hook)")
        }
        if let crashAtRound, device.round == crashAtRound {
            raise(SIGSEGV)
        }
        let limits = device.limits
        let candidates = ConfigurationChoice.maximal(
            ConfigurationChoice.feasible(profile, time: limits.time, memory: limits.memory, upload: limits.upload))
        guard let most = candidates.map(\.uploadBytes).max() else { return nil }
        let best = candidates.filter { $0.uploadBytes == most }
        return best[Int.random(in: 0..<best.count, using: &generator)].window
    }

    /// CoCoFL's rule: w_k ← (|S_k|/N)·mean_{S_k}(w_k) + (1 − |S_k|/N)·w_k(old).
    func aggregate(global: ParameterSet, updates: [PartialUpdate], participantCount: Int) throws -> ParameterSet {
        try rule.aggregate(global: global, updates: updates, participantCount: participantCount)
    }
}
