import CoCoFLCore
import CKernels
import NN

/// The width-scaled sub-model rule shared by HeteroFL, FedRolex and Federated Dropout: every element of every
/// global tensor becomes the mean over the devices whose sub-tensor covered it.
///
/// Elements no device covered keep their value bit-for-bit, and so do keys nobody uploaded. The index lists may
/// be any distinct in-range indices: prefixes (HeteroFL), windows that wrap modulo the axis (FedRolex), or random
/// subsets (Federated Dropout). Full tensors are accepted too, as sub-tensors that cover everything.
public struct ElementwiseAggregation: AggregationRule, Hashable {
    /// How devices count in each element's mean (HeteroFL uses `.uniform`).
    public var weighting: DeviceWeighting

    /// The rule with the given weighting.
    public init(weighting: DeviceWeighting = .uniform) {
        self.weighting = weighting
    }

    /// The new global parameters; `participantCount` only has to cover the uploads.
    public func aggregate(global: ParameterSet, updates: [PartialUpdate], participantCount: Int) throws -> ParameterSet {
        let round = try RoundUploads(
            global: global, updates: updates, participantCount: participantCount, requireFull: false,
            ruleName: "elementwise aggregation")
        var result = global
        for key in global.keys {
            guard let contributors = round.contributors[key], !contributors.isEmpty else { continue }
            let reference = global[key]!
            // A 0-dimensional tensor (e.g. `num_batches_tracked`) is a rank-1 tensor of one element for the kernel.
            let globalShape = reference.shape.isEmpty ? [1] : reference.shape
            guard globalShape.count <= 4 else {
                throw AggregationError(
                    .shapeMismatch, key: key,
                    message: "parameter '\(key)' has rank \(globalShape.count) (shape \(reference.shape)); elementwise "
                        + "aggregation supports tensors of rank 1 to 4")
            }
            let count = reference.values.count
            var sum = [Double](repeating: 0, count: count)
            var weights = [Double](repeating: 0, count: count)
            for (update, tensor) in contributors {
                let weight = try weighting.weight(of: update, key: key)
                guard weight > 0 else { continue }
                let subShape = tensor.shape.isEmpty ? [1] : tensor.shape
                let coverage = tensor.coverage.isEmpty ? [AxisCoverage.all] : tensor.coverage
                let indices = zip(coverage, globalShape).flatMap { axis, dimension in
                    axis.globalIndices(dimension: dimension).map(Int64.init)
                }
                let status = scatter(
                    sum: &sum, weights: &weights, globalShape: globalShape, values: tensor.values,
                    subShape: subShape, indices: indices, weight: weight)
                precondition(status == 0, "ck_scatter_accumulate rejected rank \(globalShape.count)")
            }
            try result.withMutableValues(of: key) { values in
                sum.withUnsafeBufferPointer { sum in
                    weights.withUnsafeBufferPointer { weights in
                        values.withUnsafeMutableBufferPointer { values in
                            _ = ck_scatter_finalize(sum.baseAddress, weights.baseAddress, values.baseAddress, count)
                        }
                    }
                }
            }
        }
        return result
    }
}

/// Calls `ck_scatter_accumulate` on validated shapes and indices.
private func scatter(
    sum: inout [Double], weights: inout [Double], globalShape: [Int], values: [Float], subShape: [Int],
    indices: [Int64], weight: Double
) -> Int32 {
    // size_t imports as Int, so the shapes pass as they are.
    return sum.withUnsafeMutableBufferPointer { sum in
        weights.withUnsafeMutableBufferPointer { weights in
            values.withUnsafeBufferPointer { values in
                indices.withUnsafeBufferPointer { indices in
                    globalShape.withUnsafeBufferPointer { globalShape in
                        subShape.withUnsafeBufferPointer { subShape in
                            ck_scatter_accumulate(
                                sum.baseAddress, weights.baseAddress, globalShape.count, globalShape.baseAddress,
                                values.baseAddress, subShape.baseAddress, indices.baseAddress, weight)
                        }
                    }
                }
            }
        }
    }
}
