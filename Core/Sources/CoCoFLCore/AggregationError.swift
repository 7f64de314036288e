import Foundation

/// An upload or parameter set that cannot be aggregated: unknown keys, shapes or index lists that do not fit,
/// repeated devices or keys, or weights that cannot form a mean.
///
/// The message names the parameter key (or device) at fault and says how to fix it.
public struct AggregationError: Error, Equatable, CustomStringConvertible, LocalizedError {
    /// The kind of problem, for callers that react differently to each.
    public enum Kind: String, Sendable {
        /// A key is not in the global parameter set.
        case unknownKey
        /// The same key appears twice in a parameter set or in one device's upload.
        case duplicateKey
        /// A tensor's shape, value count or rank does not match what it should.
        case shapeMismatch
        /// A sub-tensor's global index is outside its axis or repeated within it.
        case invalidIndex
        /// A rule was given an upload it cannot use (a sub-tensor for a full-tensor rule, a device twice,
        /// more uploads than participating devices).
        case invalidUpdate
        /// Sample-count weights that are negative or sum to zero for a key.
        case invalidWeights
    }

    /// The kind of problem.
    public let kind: Kind
    /// The parameter key at fault, or nil when the problem is not about one key (e.g. the participant count).
    public let key: String?
    /// The full message: what is wrong with which key and how to fix it.
    public let description: String

    /// Creates an error; `message` should name `key`, the problem and the fix.
    public init(_ kind: Kind, key: String?, message: String) {
        self.kind = kind
        self.key = key
        self.description = message
    }

    /// The message, for Foundation and the command line.
    public var errorDescription: String? { description }
}

/// Number of elements of a shape; nil if a dimension is negative or the product overflows.
func elementCount(of shape: [Int]) -> Int? {
    var count = 1
    for dimension in shape {
        guard dimension >= 0 else { return nil }
        let (product, overflow) = count.multipliedReportingOverflow(by: dimension)
        guard !overflow else { return nil }
        count = product
    }
    return count
}

/// Checks that `array` holds exactly as many values as its shape says.
func validateValueCount(_ array: NamedArray) throws {
    guard let expected = elementCount(of: array.shape) else {
        throw AggregationError(
            .shapeMismatch, key: array.key,
            message: "parameter '\(array.key)' has an invalid shape \(array.shape); dimensions must be non-negative")
    }
    guard array.values.count == expected else {
        throw AggregationError(
            .shapeMismatch, key: array.key,
            message: "parameter '\(array.key)' has shape \(array.shape) (\(expected) values) but holds "
                + "\(array.values.count) values; export it again from the model")
    }
}
