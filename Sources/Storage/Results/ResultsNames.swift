import Foundation

/// Name checks and timestamp formatting shared by the results layout.
enum ResultsNames {
    /// Throws unless `name` can be one link name: non-empty, no '/', not "." or "..".
    ///
    /// Dots inside a name are fine (`layer1.0.conv1.weight`): HDF5 separates path components only by '/'.
    static func validate(_ name: String, as what: String, filePath: String, parent: String) throws {
        guard !name.isEmpty, !name.contains("/"), name != ".", name != "..", !name.utf8.contains(0) else {
            throw ResultsError(
                kind: .invalidName, filePath: filePath, objectPath: parent,
                reason: "\(what) '\(name)' cannot be an HDF5 link name; use a non-empty name without '/' or NUL "
                    + "that is not '.' or '..'")
        }
    }

    /// The absolute path of the child `name` of `parent`.
    static func join(_ parent: String, _ name: String) -> String {
        parent == "/" ? "/" + name : parent + "/" + name
    }

    /// `date` as an ISO-8601 UTC timestamp with whole seconds, e.g. "2025-03-01T14:05:09Z".
    static func timestamp(_ date: Date) -> String {
        formatter().string(from: date)
    }

    /// The date of a timestamp written by `timestamp(_:)`; nil for "" or text that is not such a timestamp.
    static func date(fromTimestamp text: String) -> Date? {
        text.isEmpty ? nil : formatter().date(from: text)
    }

    /// A new formatter per call: ISO8601DateFormatter is not Sendable, and timestamps are written rarely.
    private static func formatter() -> ISO8601DateFormatter {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime]
        formatter.timeZone = TimeZone(identifier: "UTC")
        return formatter
    }
}
