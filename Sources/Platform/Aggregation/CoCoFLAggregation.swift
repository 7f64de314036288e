import CoCoFLCore
import CKernels
import NN

/// The CoCoFL server rule (Pfeiffer et al., TMLR 2023), per parameter key k:
/// w_k ← (|S_k|/N)·mean_{S_k}(w_k) + (1 − |S_k|/N)·w_k(old),
/// with S_k the devices that uploaded k this round and N the devices that took part.
///
/// Devices that froze k still pull it towards its old value, in proportion to how many they are. Keys nobody
/// uploaded stay unchanged. Uploads must be full tensors.
public struct CoCoFLAggregation: AggregationRule, Hashable {
    /// How devices count in the mean over S_k; the mix factor |S_k|/N always counts devices.
    public var weighting: DeviceWeighting

    /// The rule with the given weighting of the mean (the reference uses `.uniform`).
    public init(weighting: DeviceWeighting = .uniform) {
        self.weighting = weighting
    }

    /// The new global parameters; `participantCount` is N and must be at least the number of uploads.
    public func aggregate(global: ParameterSet, updates: [PartialUpdate], participantCount: Int) throws -> ParameterSet {
        let round = try RoundUploads(
            global: global, updates: updates, participantCount: participantCount, requireFull: true,
            ruleName: "CoCoFL aggregation")
        return try blendMeans(
            global: global, round: round, weighting: weighting,
            mix: { contributorCount in Double(contributorCount) / Double(participantCount) })
    }
}

/// For every uploaded key: the (weighted) mean over its uploads, blended with the old value by `mix(|S_k|)`.
func blendMeans(
    global: ParameterSet, round: RoundUploads, weighting: DeviceWeighting, mix: (Int) -> Double
) throws -> ParameterSet {
    var result = global
    for key in global.keys {
        guard let contributors = round.contributors[key], !contributors.isEmpty else { continue }
        let count = global[key]!.values.count
        var sum = [Double](repeating: 0, count: count)
        var totalWeight = 0.0
        for (update, tensor) in contributors {
            let weight = try weighting.weight(of: update, key: key)
            totalWeight += weight
            sum.withUnsafeMutableBufferPointer { sum in
                tensor.values.withUnsafeBufferPointer { values in
                    ck_aggregation_accumulate(sum.baseAddress, values.baseAddress, count, weight)
                }
            }
        }
        guard totalWeight > 0 else {
            throw AggregationError(
                .invalidWeights, key: key,
                message: "parameter '\(key)': the \(contributors.count) devices that uploaded it report 0 samples in "
                    + "total, so no sample-weighted mean exists; report sample counts or use uniform weighting")
        }
        let factor = mix(contributors.count)
        try result.withMutableValues(of: key) { values in
            sum.withUnsafeBufferPointer { sum in
                values.withUnsafeMutableBufferPointer { values in
                    ck_aggregation_blend(sum.baseAddress, 1 / totalWeight, factor, values.baseAddress, count)
                }
            }
        }
    }
    return result
}
