import Foundation

/// A report file or folder that could not be written.
public struct ReportWriteError: Error, CustomStringConvertible, Sendable {
    /// The path that could not be written.
    public let path: String
    /// What the system said.
    public let reason: String

    /// Creates an error about `path`.
    public init(path: String, reason: String) {
        self.path = path
        self.reason = reason
    }

    /// One line naming the path and the fix.
    public var description: String {
        "cannot write '\(path)': \(reason); choose a writable location"
    }
}

/// A run's metric columns as CSV: a header of `round` then the other metric names sorted, one line per recorded
/// round, NaN (a metric not recorded in that round) as an empty field.
public enum MetricsCSV {
    /// The CSV text of `columns` (metric name → one value per row, `round` included); lines end with "\n".
    public static func text(columns: [String: [Double]]) -> String {
        let round = ResultsLayout.roundMetric
        let names = (columns[round] == nil ? [] : [round]) + columns.keys.filter { $0 != round }.sorted()
        let rowCount = names.map { columns[$0]!.count }.max() ?? 0
        var lines = [names.map(field).joined(separator: ",")]
        for row in 0..<rowCount {
            lines.append(names.map { name in
                let column = columns[name]!
                return row < column.count ? number(column[row]) : ""
            }.joined(separator: ","))
        }
        return lines.joined(separator: "\n") + "\n"
    }

    /// A value as the shortest text that reads back to the same Double; whole numbers without ".0" (rounds,
    /// device counts, bytes), NaN as nothing.
    static func number(_ value: Double) -> String {
        if value.isNaN { return "" }
        if value == value.rounded(), abs(value) < 1e15 { return String(Int64(value)) }
        return "\(value)"
    }

    /// A header field, quoted (RFC 4180) only when it holds a comma, quote or line break.
    static func field(_ text: String) -> String {
        guard text.contains(where: { $0 == "," || $0 == "\"" || $0.isNewline }) else { return text }
        return "\"" + text.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }
}

extension ResultsFile {
    /// Writes `<directory>/<run>.csv` with each run's metrics (see `MetricsCSV`), creating the directory and
    /// replacing earlier files of the same names; returns the paths written, in run-name order.
    public func exportMetricsCSV(to directory: String) throws -> [String] {
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        } catch {
            throw ReportWriteError(path: directory, reason: Self.reason(error))
        }
        return try runNames().map { name in
            let path = URL(fileURLWithPath: directory).appendingPathComponent(name + ".csv").path
            let text = MetricsCSV.text(columns: try openRun(name).metrics())
            try Self.write(text, to: path)
            return path
        }
    }

    /// Writes `text` to `path` atomically (a failed write leaves an earlier file intact).
    static func write(_ text: String, to path: String) throws {
        do {
            try Data(text.utf8).write(to: URL(fileURLWithPath: path), options: .atomic)
        } catch {
            throw ReportWriteError(path: path, reason: reason(error))
        }
    }

    /// The system's reason in a few words, without Foundation's "The operation could not be completed."
    static func reason(_ error: Error) -> String {
        if let posix = (error as NSError).userInfo[NSUnderlyingErrorKey] as? NSError, posix.domain == NSPOSIXErrorDomain {
            return String(cString: strerror(Int32(posix.code)))
        }
        guard let cocoa = error as? CocoaError else { return error.localizedDescription }
        switch cocoa.code {
        case .fileNoSuchFile, .fileReadNoSuchFile: return "its parent directory does not exist"
        case .fileWriteNoPermission, .fileReadNoPermission: return "permission denied"
        case .fileWriteFileExists: return "a file of that name exists where a directory is needed"
        case .fileWriteVolumeReadOnly: return "the file system is read-only"
        case .fileWriteOutOfSpace: return "the disk is full"
        default: return error.localizedDescription
        }
    }
}
