import Foundation

/// A dataset that could not be loaded or selected; the message names the file (or name) and says how to fix it.
public struct DatasetError: Error, Equatable, CustomStringConvertible, LocalizedError {
    /// The kind of problem, for callers that treat a missing file differently from a damaged one.
    public enum Kind: String, Sendable {
        /// A file or directory does not exist.
        case missingFile
        /// A file exists but cannot be opened or read.
        case unreadableFile
        /// A file or its compressed stream ends before the data its header announces.
        case truncatedFile
        /// A file has the wrong magic number, size or structure for its format.
        case corruptFile
        /// Two files that belong together disagree on the number of samples.
        case countMismatch
        /// A label lies outside the dataset's classes.
        case labelOutOfRange
        /// No loader is registered under the requested name.
        case unknownDataset
        /// Two loaders were registered under the same name.
        case duplicateDataset
        /// A subset was requested that the dataset cannot provide.
        case invalidSubset
        /// A conversion was requested that the dataset's shape does not allow.
        case invalidConversion
    }

    /// The kind of problem.
    public let kind: Kind
    /// The file or directory concerned, if any.
    public let path: String?
    /// The full message: what is wrong with which file and how to fix it.
    public let description: String

    /// Creates an error; `message` should name the file, the problem and the fix.
    public init(_ kind: Kind, path: String?, message: String) {
        self.kind = kind
        self.path = path
        self.description = message
    }

    /// The message, for Foundation and the command line.
    public var errorDescription: String? { description }
}

/// How to obtain or repair one dataset's files, quoted at the end of every error about them.
struct DatasetFileHints: Sendable {
    /// How to get the files when they are missing, e.g. which package to install.
    let install: String
    /// How to get intact files when they are damaged.
    let repair: String

    func missing(_ path: String) -> DatasetError {
        DatasetError(.missingFile, path: path, message: "\(path) does not exist. \(install)")
    }

    func unreadable(_ path: String, reason: String) -> DatasetError {
        DatasetError(.unreadableFile, path: path,
                     message: "\(path) cannot be read (\(reason)). Check its permissions, or "
                        + lowercasedFirst(install))
    }

    func truncated(_ path: String, _ problem: String) -> DatasetError {
        DatasetError(.truncatedFile, path: path, message: "\(path) is truncated: \(problem). \(repair)")
    }

    func corrupt(_ path: String, _ problem: String) -> DatasetError {
        DatasetError(.corruptFile, path: path, message: "\(path) is not a valid dataset file: \(problem). \(repair)")
    }

    func countMismatch(_ path: String, _ problem: String) -> DatasetError {
        DatasetError(.countMismatch, path: path, message: "\(path): \(problem). \(repair)")
    }

    func labelOutOfRange(_ path: String, _ problem: String) -> DatasetError {
        DatasetError(.labelOutOfRange, path: path, message: "\(path): \(problem). \(repair)")
    }

    private func lowercasedFirst(_ text: String) -> String {
        guard let first = text.first else { return text }
        return first.lowercased() + text.dropFirst()
    }
}
