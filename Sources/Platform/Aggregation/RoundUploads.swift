import CoCoFLCore
import NN

extension DeviceWeighting {
    /// The weight of `update` for `key`; throws naming the key and device if a sample count is negative.
    /// Kept in the host: only the host's aggregation kernels weigh uploads, so it is no part of the plugin API.
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
