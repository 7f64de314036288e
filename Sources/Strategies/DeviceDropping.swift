import CoCoFLCore
import Platform

/// Device dropping: FedAvg among the devices whose limits admit full training (the paper's evidence that
/// constrained devices with sub-models can hurt more than they help).
///
/// With the default `sampling = "unconstrained-only"` each round samples `per_round` devices among those whose
/// limits this round admit full training (time, memory and upload all ≥ 1.0), as the reference code does; when
/// fewer are eligible all of them train and the round's metrics count the empty places. With
/// `sampling = "all-devices"` the round samples among all devices and the constrained ones sit it out, so fewer
/// than `per_round` train (about 3 of 10 under the reference mix).
public enum DeviceDropping {
    /// How a round's devices are sampled.
    public enum Sampling: String, Sendable, CaseIterable {
        /// Sample among the devices that can train the full model this round (the reference).
        case unconstrainedOnly = "unconstrained-only"
        /// Sample among all devices; the constrained ones are skipped.
        case allDevices = "all-devices"
    }

    /// Registry entry.
    public static let entry = StrategyEntry(id: "device-dropping", summary: "only devices that can train the full model take part", profile: []) { options, environment in
        let text = options.string("sampling", default: Sampling.unconstrainedOnly.rawValue)
        guard let sampling = Sampling(rawValue: text) else {
            throw StrategyError("option 'sampling' of strategy 'device-dropping' must be "
                                + Sampling.allCases.map { "'\($0.rawValue)'" }.joined(separator: " or ") + ", got '\(text)'")
        }
        return try FedAvg(weighting: deviceWeighting(options), unitCount: environment.unitCount, dropping: sampling)
    }
}
