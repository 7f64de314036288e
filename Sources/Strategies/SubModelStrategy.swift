import CoCoFLCore
import NN
import Platform

/// The HeteroFL family: a constrained device trains a width-scaled sub-model (⌈r·C⌉ channels of each hidden layer)
/// with r the largest ratio of the grid its limits admit, and the server averages every element over the devices
/// that trained it. HeteroFL takes the first channels, FedRolex a window that rolls one channel per round,
/// Federated Dropout a random subset; they differ only in `selection`.
///
/// Whether a ratio fits is judged by its costs measured on this machine like CoCoFL's windows (`costs =
/// "measured"`, the default: the profile's time, memory and upload ratios of the sub-model), so that both methods
/// are charged by the same ruler; `costs = "analytic"` keeps HeteroFL's rule (time and upload r², memory r).
public final class SubModelStrategy: Strategy {
    /// How the channels of a sub-model are chosen.
    public enum Kind: String, Sendable { case heteroFL = "heterofl", fedRolex = "fedrolex", federatedDropout = "federated-dropout" }

    /// Registry entries of the three variants.
    public static let entries: [StrategyEntry] = [
        entry(.heteroFL, "width-scaled sub-models: the first ⌈r·C⌉ channels of each layer"),
        entry(.fedRolex, "width-scaled sub-models: a channel window rolling one channel per round"),
        entry(.federatedDropout, "width-scaled sub-models: a random channel subset per device and round"),
    ]

    /// How a ratio's costs are known.
    public enum Costs: String, Sendable, CaseIterable {
        /// Measured on this machine, from the profile (`cocofl profile` measures them with the windows).
        case measured
        /// HeteroFL's analytic rule: time and upload r², memory r.
        case analytic
    }

    private static func entry(_ kind: Kind, _ summary: String) -> StrategyEntry {
        StrategyEntry(id: kind.rawValue, summary: summary, profile: .subModels) { options, environment in
            let grid = options.string("ratios", default: SubModelCost.standardRatios.map { "\($0)" }.joined(separator: ","))
            let ratios = grid.split(separator: ",").compactMap { Double($0.trimmingCharacters(in: .whitespaces)) }
            guard !ratios.isEmpty, ratios.count == grid.split(separator: ",").count, ratios.allSatisfy({ $0 > 0 && $0 <= 1 }) else {
                throw StrategyError("option 'ratios' of strategy '\(kind.rawValue)' must be comma-separated numbers in (0, 1], got '\(grid)'")
            }
            let text = options.string("costs", default: Costs.measured.rawValue)
            guard let costs = Costs(rawValue: text) else {
                throw StrategyError("option 'costs' of strategy '\(kind.rawValue)' must be "
                                    + Costs.allCases.map { "'\($0.rawValue)'" }.joined(separator: " or ") + ", got '\(text)'")
            }
            return try SubModelStrategy(kind: kind, ratios: ratios, costs: costs, profile: environment.profile,
                                        weighting: try deviceWeighting(options))
        }
    }

    let kind: Kind
    /// The grid with each ratio's costs, largest ratio first.
    let grid: [SubModelCost]
    let costs: Costs
    let rule: ElementwiseAggregation

    /// A strategy over `ratios`; with measured costs every ratio must be in `profile`.
    init(kind: Kind, ratios: [Double], costs: Costs, profile: ModelProfile, weighting: DeviceWeighting) throws {
        self.kind = kind
        self.costs = costs
        grid = try ratios.sorted(by: >).map { ratio in
            switch costs {
            case .analytic:
                return SubModelCost.analytic(ratio: ratio)
            case .measured:
                guard let measured = profile.cost(ofSubModel: ratio) else {
                    let profiled = profile.subModels.map { "\($0.ratio)" }.joined(separator: ", ")
                    throw StrategyError("strategy '\(kind.rawValue)': width ratio \(ratio) has no measured cost in the profile of "
                                        + "\(profile.model) (profiled: \(profiled.isEmpty ? "none" : profiled)); use profiled ratios, "
                                        + "or option costs = \"analytic\" for HeteroFL's rule")
                }
                return measured
            }
        }
        rule = ElementwiseAggregation(weighting: weighting)
    }

    /// The largest ratio whose costs fit the limits (time, memory and upload as fractions of full training).
    public func ratio(for limits: DeviceLimits) -> Double? {
        grid.first { $0.timeRatio <= limits.time && $0.memoryRatio <= limits.memory && $0.uploadRatio <= limits.upload }?.ratio
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

    /// Trains the sub-model of the largest ratio the device's limits admit, or skips the device; its reported
    /// costs are the ones the choice used.
    public func train(_ device: DeviceRound, with trainer: any LocalTrainer, generator: inout SeededGenerator) throws -> LocalOutcome {
        guard let r = ratio(for: device.limits), let cost = grid.first(where: { $0.ratio == r }) else {
            return .skipped(reason: "no sub-model ratio fits the limits")
        }
        let selection = selection(for: device, generator: &generator)
        var result = try trainer.trainSubModel(ratio: r, selection: selection, generator: &generator)
        result.timeRatio = cost.timeRatio
        result.memoryRatio = cost.memoryRatio
        return .trained(result)
    }

    public func aggregate(global: ParameterSet, updates: [PartialUpdate], participantCount: Int) throws -> ParameterSet {
        try rule.aggregate(global: global, updates: updates, participantCount: participantCount)
    }
}
