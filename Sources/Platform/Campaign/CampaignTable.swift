import TOMLKit

/// The campaign file being read: its name for messages and where each key is written.
struct CampaignSource {
    /// The file as given, for messages.
    let file: String
    /// Lines of keys, for messages.
    let locator: TOMLKeyLocator

    /// An error at `path` (its line, or its table's line when the key itself is absent).
    func error(at path: [String], _ message: String) -> CampaignError {
        CampaignError(file: file, line: locator.line(of: path), key: Self.display(path), message: message)
    }

    /// `mixes.small.groups[1].share` for `["mixes", "small", "groups", "[1]", "share"]`.
    static func display(_ path: [String]) -> String {
        var text = ""
        for component in path {
            if component.hasPrefix("[") || text.isEmpty {
                text += component
            } else {
                text += "." + component
            }
        }
        return text
    }
}

/// One TOML value with its key path, and typed reads that throw `CampaignError`s naming the key and its line.
struct CampaignValue {
    let value: any TOMLValueConvertible
    let path: [String]
    let source: CampaignSource

    /// The key path as written in messages.
    var key: String { CampaignSource.display(path) }

    /// A wrong-type error: the key, what it must be, what it is, and a fix.
    func typeError(expected: String, example: String? = nil) -> CampaignError {
        var message = "'\(key)' must be \(expected), but it is \(Self.describe(value))"
        if value.type == .string, let text = value.string, Double(text) != nil, expected.contains("number") ||
            expected.contains("integer") {
            message += "; remove the quotes"
        } else if let example {
            message += "; write e.g. \(example)"
        }
        return source.error(at: path, message)
    }

    /// A message about this value at its line.
    func error(_ message: String) -> CampaignError { source.error(at: path, message) }

    func string(example: String? = nil) throws -> String {
        guard let text = value.string else { throw typeError(expected: "a string", example: example) }
        return text
    }

    func integer(example: String? = nil) throws -> Int {
        guard let number = value.int else { throw typeError(expected: "an integer", example: example) }
        return number
    }

    /// An integer ≥ `minimum`; zero or negative counts name the key and the smallest allowed value.
    func integer(atLeast minimum: Int, example: String? = nil) throws -> Int {
        let number = try integer(example: example)
        guard number >= minimum else {
            throw error("'\(key)' is \(number) but must be at least \(minimum)"
                        + (example.map { "; write e.g. \($0)" } ?? ""))
        }
        return number
    }

    /// A floating-point number; integers are accepted too (`lr = 1` means 1.0).
    func number(example: String? = nil) throws -> Double {
        if let number = value.double { return number }
        if let number = value.int { return Double(number) }
        throw typeError(expected: "a number", example: example)
    }

    func boolean(example: String? = nil) throws -> Bool {
        guard let flag = value.bool else { throw typeError(expected: "true or false", example: example) }
        return flag
    }

    /// The value as a table with its own key path.
    func table(example: String? = nil) throws -> CampaignTable {
        guard let table = value.table else { throw typeError(expected: "a table", example: example) }
        return CampaignTable(table: table, path: path, source: source)
    }

    /// The elements of an array, each with its path (`key[0]`, `key[1]`, …).
    func array(example: String? = nil) throws -> [CampaignValue] {
        guard let array = value.array else { throw typeError(expected: "an array", example: example) }
        return array.indices.map { CampaignValue(value: array[$0], path: path + ["[\($0)]"], source: source) }
    }

    /// "a string (\"40\")", "an integer (3)", "an array", …: the TOML type and, for scalars, the value.
    static func describe(_ value: any TOMLValueConvertible) -> String {
        switch value.type {
        case .string: "a string (\(value.debugDescription))"
        case .int: "an integer (\(value.debugDescription))"
        case .double: "a floating-point number (\(value.debugDescription))"
        case .bool: "a boolean (\(value.debugDescription))"
        case .array: "an array"
        case .table: "a table"
        case .date: "a date"
        case .time: "a time"
        case .dateTime: "a date-time"
        }
    }
}

/// A TOML table with its key path; reads keys and rejects the ones it does not know.
struct CampaignTable {
    let table: TOMLTable
    let path: [String]
    let source: CampaignSource

    /// The table's keys, in the order they are written in the file (TOMLKit returns them sorted by name).
    var keys: [String] {
        table.keys.sorted { left, right in
            let leftLine = source.locator.line(of: path + [left]) ?? Int.max
            let rightLine = source.locator.line(of: path + [right]) ?? Int.max
            return leftLine != rightLine ? leftLine < rightLine : left < right
        }
    }

    /// The value of `key`, if the table has it.
    func value(_ key: String) -> CampaignValue? {
        table[key].map { CampaignValue(value: $0, path: path + [key], source: source) }
    }

    /// An error at `key` of this table (its line, or the table's line when the key is absent).
    func error(at key: String, _ message: String) -> CampaignError { source.error(at: path + [key], message) }

    /// An error at the table itself.
    func error(_ message: String) -> CampaignError { source.error(at: path, message) }

    /// Throws for the first key (by line) that is not in `known`, naming it, its table and the known keys.
    func rejectUnknownKeys(known: [String]) throws {
        for key in keys where !known.contains(key) {
            let place: String
            if path.isEmpty {
                place = "at the top level"
            } else if let last = path.last, last.hasPrefix("[") {
                place = "in [[\(CampaignSource.display(Array(path.dropLast())))]] entries"
            } else {
                place = "in [\(CampaignSource.display(path))]"
            }
            throw error(at: key, "unknown key '\(CampaignSource.display(path + [key]))'"
                        + Suggestion.didYouMean(key, among: known)
                        + "; the keys allowed \(place) are: \(known.joined(separator: ", "))")
        }
    }

    /// A list: an array, or a single value standing for a one-element list.
    func list(_ key: String) -> [CampaignValue]? {
        guard let value = value(key) else { return nil }
        guard value.value.type == .array, let elements = try? value.array() else { return [value] }
        return elements
    }
}
