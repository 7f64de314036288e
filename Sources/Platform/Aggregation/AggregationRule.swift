import NN

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

    /// The weight of `update` for `key`; throws naming the key and device if a sample count is negative.
    func weight(of update: PartialUpdate, key: String) throws -> Double {
        switch self {
        case .uniform:
            return 1
        case .sampleCount:
            guard update.sampleCount >= 0 else {
                throw AggregationError(
                    .invalidWeights, key: key,
                    message: "device \(update.deviceID) reports \(update.sampleCount) samples for parameter '\(key)'; "
                        + "sample counts must be non-negative")
            }
            return Double(update.sampleCount)
        }
    }
}

/// One round's uploads checked against the global parameters and grouped by key.
struct RoundUploads {
    /// Per key, the uploads that carry it, ordered by device id so that the result does not depend on arrival order.
    let contributors: [String: [(update: PartialUpdate, tensor: TensorUpdate)]]

    /// Checks the round: participant count covers the uploads, no device uploads twice, every key is known and
    /// every tensor fits the global one. With `requireFull`, sub-tensors are rejected naming `ruleName`.
    init(
        global: ParameterSet, updates: [PartialUpdate], participantCount: Int, requireFull: Bool, ruleName: String
    ) throws {
        guard participantCount >= updates.count else {
            throw AggregationError(
                .invalidUpdate, key: nil,
                message: "\(ruleName): \(updates.count) uploads but only \(participantCount) participating devices; "
                    + "the participant count must include every uploading device")
        }
        var devices = Set<Int>()
        for update in updates {
            guard devices.insert(update.deviceID).inserted else {
                throw AggregationError(
                    .invalidUpdate, key: nil,
                    message: "\(ruleName): device \(update.deviceID) uploads twice in one round; merge its uploads")
            }
        }
        var grouped: [String: [(update: PartialUpdate, tensor: TensorUpdate)]] = [:]
        for update in updates.sorted(by: { $0.deviceID < $1.deviceID }) {
            for key in update.keys {
                let tensor = update[key]!
                let reference = try global.array(key)
                try tensor.validate(against: reference)
                if requireFull && !tensor.isFull {
                    throw AggregationError(
                        .invalidUpdate, key: key,
                        message: "\(ruleName): device \(update.deviceID) uploads a sub-tensor of parameter '\(key)' "
                            + "(shape \(tensor.shape) of \(reference.shape)); this rule needs full tensors, use "
                            + "ElementwiseAggregation for width-scaled sub-models")
                }
                grouped[key, default: []].append((update, tensor))
            }
        }
        contributors = grouped
    }
}
