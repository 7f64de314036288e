import Foundation

/// A federation setting that cannot be used: device groups, per-round sampling, partitions or distributions.
///
/// The message names the command-line option or configuration field at fault and says how to fix it.
public struct FederationError: Error, Equatable, CustomStringConvertible, LocalizedError {
    /// The kind of problem, for callers that react differently to each.
    public enum Kind: String, Sendable {
        /// A resource limit of a device group is not positive, not finite, or has lower > upper.
        case invalidResourceLimit
        /// The device mix is empty, has unnamed or duplicate groups, or bad shares or counts.
        case invalidDeviceMix
        /// The number of devices cannot hold the configured groups or the data.
        case invalidDeviceCount
        /// The number of devices sampled per round is not between 1 and the number of devices.
        case invalidSampling
        /// The partition scheme cannot split this dataset (bad α, missing writer ids, bad labels or groups).
        case invalidPartition
        /// A distribution parameter (Gamma shape, Dirichlet concentration) is not positive and finite.
        case invalidDistribution
    }

    /// The kind of problem.
    public let kind: Kind
    /// The configuration key or field at fault, e.g. "alpha" or "medium.upload".
    public let option: String
    /// The full message: what is wrong with which option and how to fix it.
    public let description: String

    /// Creates an error; `message` should name `option`, the problem and the fix.
    public init(_ kind: Kind, option: String, message: String) {
        self.kind = kind
        self.option = option
        self.description = message
    }

    /// The message, for Foundation and the command line.
    public var errorDescription: String? { description }
}
