import CoCoFLCore
import NN
import Platform

/// The HeteroFL family: a constrained device trains a width-scaled sub-model (⌈r·C⌉ channels of each hidden layer)
/// with r the largest ratio of the grid its limits admit, and the server averages every element over the devices
/// that trained it. HeteroFL takes the first channels, FedRolex a window that rolls one channel per round,
/// Federated Dropout a random subset; they differ only in `selection`.
public final class SubModelStrategy: Strategy {
    /// How the channels of a sub-model are chosen.
    public enum Kind: String, Sendable { case heteroFL = "heterofl", fedRolex = "fedrolex", federatedDropout = "federated-dropout" }

    /// Registry entries of the three variants.
    public static let entries: [StrategyEntry] = [
        entry(.heteroFL, "width-scaled sub-models: the first ⌈r·C⌉ channels of each layer"),
        entry(.fedRolex, "width-scaled sub-models: a channel window rolling one channel per round"),
        entry(.federatedDropout, "width-scaled sub-models: a random channel subset per device and round"),
    ]

    private static func entry(_ kind: Kind, _ summary: String) -> StrategyEntry {
        StrategyEntry(id: kind.rawValue, summary: summary, usesProfile: false) { options, _ in
            let grid = options.string("ratios", default: "1,0.5,0.25,0.125")
            let ratios = grid.split(separator: ",").compactMap { Double($0.trimmingCharacters(in: .whitespaces)) }
            guard !ratios.isEmpty, ratios.count == grid.split(separator: ",").count, ratios.allSatisfy({ $0 > 0 && $0 <= 1 }) else {
                throw StrategyError("option 'ratios' of strategy '\(kind.rawValue)' must be comma-separated numbers in (0, 1], got '\(grid)'")
            }
            return SubModelStrategy(kind: kind, ratios: ratios.sorted(by: >), weighting: try deviceWeighting(options))
        }
    }

    let kind: Kind
    let ratios: [Double]
    let rule: ElementwiseAggregation

    init(kind: Kind, ratios: [Double], weighting: DeviceWeighting) {
        self.kind = kind
        self.ratios = ratios
        rule = ElementwiseAggregation(weighting: weighting)
    }

    /// The largest ratio the limits admit: compute and upload scale with r² (HeteroFL's cost model), activation
    /// memory with r.
    public func ratio(for limits: DeviceLimits) -> Double? {
        ratios.first { r in r * r <= limits.time && r * r <= limits.upload && r <= limits.memory }
    }

    /// The channels of this variant for `device`: the first ones, a window rolling one channel per round, or a
    /// random subset drawn from the device's generator.
    public func selection(for device: DeviceRound, generator: inout SeededGenerator) -> SubModelSelection {
        switch kind {
        case .heteroFL: .prefix
        case .fedRolex: .rolling(offset: device.round - 1)
        case .federatedDropout: .random(seed: generator.next())
        }
    }

    /// Trains the sub-model of the largest ratio the device's limits admit, or skips the device.
    public func train(_ device: DeviceRound, with trainer: any LocalTrainer, generator: inout SeededGenerator) throws -> LocalOutcome {
        guard let r = ratio(for: device.limits) else { return .skipped(reason: "no sub-model ratio fits the limits") }
        let selection = selection(for: device, generator: &generator)
        return .trained(try trainer.trainSubModel(ratio: r, selection: selection, generator: &generator))
    }

    public func aggregate(global: ParameterSet, updates: [PartialUpdate], participantCount: Int) throws -> ParameterSet {
        try rule.aggregate(global: global, updates: updates, participantCount: participantCount)
    }
}
