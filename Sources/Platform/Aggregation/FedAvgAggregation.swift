import CoCoFLCore
import NN

/// FedAvg's server rule: each key becomes the mean over the devices that uploaded it.
///
/// This is the CoCoFL rule when every participating device uploads every key. Keys nobody uploaded stay
/// unchanged. Uploads must be full tensors.
public struct FedAvgAggregation: AggregationRule, Hashable {
    /// How devices count in the mean.
    public var weighting: DeviceWeighting

    /// The rule with the given weighting (`.sampleCount` is McMahan et al.'s FedAvg for unequal shards).
    public init(weighting: DeviceWeighting = .uniform) {
        self.weighting = weighting
    }

    /// The new global parameters; `participantCount` only has to cover the uploads, it does not scale the mean.
    public func aggregate(global: ParameterSet, updates: [PartialUpdate], participantCount: Int) throws -> ParameterSet {
        let round = try RoundUploads(
            global: global, updates: updates, participantCount: participantCount, requireFull: true,
            ruleName: "FedAvg aggregation")
        return try blendMeans(global: global, round: round, weighting: weighting, mix: { _ in 1 })
    }
}
