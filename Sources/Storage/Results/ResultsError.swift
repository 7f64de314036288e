/// A results file that cannot be opened, or a run, checkpoint or profile request that does not fit the file.
///
/// Failures of the HDF5 library itself surface as `HDF5Error`; this type covers the rules of the results layout
/// (docs/hdf5-layout.md).
public struct ResultsError: Error, CustomStringConvertible, Sendable {
    /// What went wrong, so callers can react without parsing the message.
    public enum Kind: Sendable, Equatable {
        /// The file was written with a newer layout than this build of cocofl reads.
        case newerFormatVersion(found: Int64, newestReadable: Int64)
        /// The file is HDF5 but has no valid `format_version` attribute, so cocofl did not write it.
        case notAResultsFile
        /// A run, checkpoint, device table or profile that was asked for does not exist (or is incomplete).
        case notFound
        /// A run that was to be created already exists.
        case alreadyExists
        /// A run, metric, parameter, model or profile name cannot be used as an HDF5 link name.
        case invalidName
        /// A value given to a write does not fit the layout (shape, round order, histogram length, …).
        case invalidValue
        /// Stored data breaks the layout's rules (unknown status, metric columns of different lengths, …).
        case damaged
        /// A run is being written by another live process (it holds the run's lock).
        case busy
        /// A file the results need (a run file, its folder or its lock) cannot be created or written.
        case unwritable
    }

    /// What went wrong.
    public let kind: Kind
    /// The results file involved.
    public let filePath: String
    /// The object inside the file (e.g. `/runs/a/checkpoints/round_5`), when there is one.
    public let objectPath: String?
    /// What happened and how to fix it.
    public let reason: String

    /// Creates an error; Storage raises these itself.
    public init(kind: Kind, filePath: String, objectPath: String? = nil, reason: String) {
        self.kind = kind
        self.filePath = filePath
        self.objectPath = objectPath
        self.reason = reason
    }

    /// One line naming the file, the object and the reason.
    public var description: String {
        var message = "results file '\(filePath)'"
        if let objectPath { message += ", object '\(objectPath)'" }
        return message + ": \(reason)"
    }
}
