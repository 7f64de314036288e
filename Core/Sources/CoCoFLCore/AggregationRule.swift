/// A server rule that folds one round's uploads into the global parameters.
///
/// Every rule returns a new global `ParameterSet` with the same keys and shapes, and leaves keys that no device
/// uploaded unchanged bit-for-bit.
public protocol AggregationRule: Sendable {
    /// The new global parameters after a round in which `participantCount` devices took part and `updates` were
    /// received (a participating device may upload nothing, so `participantCount` can exceed `updates.count`).
    func aggregate(global: ParameterSet, updates: [PartialUpdate], participantCount: Int) throws -> ParameterSet
}

extension AggregationRule {
    /// The new global parameters when exactly the uploading devices took part.
    public func aggregate(global: ParameterSet, updates: [PartialUpdate]) throws -> ParameterSet {
        try aggregate(global: global, updates: updates, participantCount: updates.count)
    }
}

/// How much each device's upload counts in the mean over the devices that uploaded a key.
public enum DeviceWeighting: String, Sendable, Hashable, Codable, CaseIterable {
    /// Every device counts once (the CoCoFL reference: equal-size shards).
    case uniform
    /// Each device counts by its `sampleCount` (FedAvg as in McMahan et al. for unequal shards).
    case sampleCount
}

/// The host's built-in server rules, handed to every strategy in `StrategyEnvironment.aggregation`, so that a
/// plugin reuses them without linking the host (their kernels live in the host's C code).
public protocol AggregationRules: Sendable {
    /// CoCoFL's per-key rule w_k ← (|S_k|/N)·mean_{S_k}(w_k) + (1 − |S_k|/N)·w_k(old); uploads must be full tensors.
    func cocofl(weighting: DeviceWeighting) -> any AggregationRule
    /// FedAvg: each uploaded key becomes the mean over the devices that uploaded it; uploads must be full tensors.
    func fedAvg(weighting: DeviceWeighting) -> any AggregationRule
    /// The HeteroFL family's rule: each element becomes the mean over the devices whose sub-tensor covered it.
    func elementwise(weighting: DeviceWeighting) -> any AggregationRule
}
