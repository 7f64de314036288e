import CoCoFLCore
import NN

/// The host's aggregation rules behind `StrategyEnvironment.aggregation`: a plugin gets the CoCoFL, FedAvg and
/// element-wise rules (and their C kernels) through this value instead of linking the host.
public struct BuiltinAggregationRules: AggregationRules {
    /// The rules of this host.
    public init() {}

    /// `CoCoFLAggregation` with the given weighting.
    public func cocofl(weighting: DeviceWeighting) -> any AggregationRule { CoCoFLAggregation(weighting: weighting) }

    /// `FedAvgAggregation` with the given weighting.
    public func fedAvg(weighting: DeviceWeighting) -> any AggregationRule { FedAvgAggregation(weighting: weighting) }

    /// `ElementwiseAggregation` with the given weighting.
    public func elementwise(weighting: DeviceWeighting) -> any AggregationRule {
        ElementwiseAggregation(weighting: weighting)
    }
}

extension StrategyEnvironment {
    /// The environment of one run in this host, with the host's built-in aggregation rules.
    public init(modelName: String, unitCount: Int, profile: ModelProfile) {
        self.init(modelName: modelName, unitCount: unitCount, profile: profile, aggregation: BuiltinAggregationRules())
    }
}
