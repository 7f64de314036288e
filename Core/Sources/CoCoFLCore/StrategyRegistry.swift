import Foundation

/// Something a registry can hold: a stable identifier and a one-line description for listings.
public protocol RegistryEntry {
    /// The stable identifier users write in campaign files and on the command line, e.g. "cocofl".
    var id: String { get }
    /// A one-line description for `cocofl strategies` style listings.
    var summary: String { get }
}

/// A registry lookup or registration that failed: an unknown or duplicate identifier.
///
/// The message lists the known identifiers and, for unknown ones, suggests the closest.
public struct RegistryError: Error, Equatable, CustomStringConvertible, LocalizedError {
    /// The kind of problem.
    public enum Kind: String, Sendable {
        /// No entry has the requested identifier.
        case unknownID
        /// An entry with the identifier is already registered.
        case duplicateID
    }

    /// The kind of problem.
    public let kind: Kind
    /// The identifier at fault.
    public let id: String
    /// The identifiers registered when the error happened, sorted.
    public let knownIDs: [String]
    /// The closest known identifier by edit distance, for unknown identifiers that look like a typo.
    public let suggestion: String?
    /// The full message: what is wrong, the known identifiers and what to do.
    public let description: String

    /// The message, for Foundation and the command line.
    public var errorDescription: String? { description }
}

/// An explicit registry of entries by identifier: a value that library code takes as a parameter and tests build
/// themselves (no global state).
///
/// Generic over the entry so that strategies, models or datasets can each have one.
public struct StrategyRegistry<Entry: RegistryEntry> {
    /// What one entry is called in messages, e.g. "strategy".
    public let entryKind: String
    private var entriesByID: [String: Entry]

    /// An empty registry whose messages call entries `entryKind`.
    public init(entryKind: String = "strategy") {
        self.entryKind = entryKind
        self.entriesByID = [:]
    }

    /// A registry holding `entries`; throws on a duplicate identifier.
    public init(_ entries: [Entry], entryKind: String = "strategy") throws {
        self.init(entryKind: entryKind)
        for entry in entries { try register(entry) }
    }

    /// Adds an entry; throws if its identifier is empty or already registered, listing the known identifiers.
    public mutating func register(_ entry: Entry) throws {
        guard entriesByID[entry.id] == nil, !entry.id.isEmpty else {
            let known = ids
            let problem = entry.id.isEmpty
                ? "a \(entryKind) with an empty id cannot be registered"
                : "\(entryKind) '\(entry.id)' is already registered"
            throw RegistryError(
                kind: .duplicateID, id: entry.id, knownIDs: known, suggestion: nil,
                description: "\(problem) (registered: \(Self.list(known))); give the new \(entryKind) another id")
        }
        entriesByID[entry.id] = entry
    }

    /// The entry with identifier `id`; throws if there is none, listing the known identifiers and suggesting the
    /// closest one.
    public func entry(id: String) throws -> Entry {
        if let entry = entriesByID[id] { return entry }
        let known = ids
        let suggestion = Self.closest(to: id, among: known)
        var message = "unknown \(entryKind) '\(id)'"
        if let suggestion { message += "; did you mean '\(suggestion)'?" }
        message += " Known \(entryKind) ids: \(Self.list(known))"
        throw RegistryError(kind: .unknownID, id: id, knownIDs: known, suggestion: suggestion, description: message)
    }

    /// Whether an entry with identifier `id` is registered.
    public func contains(id: String) -> Bool { entriesByID[id] != nil }

    /// The registered identifiers, sorted.
    public var ids: [String] { entriesByID.keys.sorted() }

    /// The registered entries, sorted by identifier.
    public var entries: [Entry] { ids.map { entriesByID[$0]! } }

    /// Number of registered entries.
    public var count: Int { entriesByID.count }

    private static func list(_ ids: [String]) -> String {
        ids.isEmpty ? "none" : ids.joined(separator: ", ")
    }

    /// The known id with the smallest case-insensitive edit distance to `id`, if it is close enough to be a typo
    /// (at most a third of the longer name, and at least 2 edits allowed).
    static func closest(to id: String, among known: [String]) -> String? {
        let target = Array(id.lowercased())
        var best: (id: String, distance: Int)?
        for candidate in known {
            let distance = editDistance(target, Array(candidate.lowercased()))
            if best == nil || distance < best!.distance { best = (candidate, distance) }
        }
        guard let best else { return nil }
        let allowed = max(2, max(target.count, best.id.count) / 3)
        return best.distance <= allowed ? best.id : nil
    }
}

extension StrategyRegistry: Sendable where Entry: Sendable {}

/// Levenshtein distance between two character sequences (insertions, deletions and substitutions cost 1).
func editDistance(_ source: [Character], _ target: [Character]) -> Int {
    if source.isEmpty { return target.count }
    if target.isEmpty { return source.count }
    var previous = Array(0...target.count)
    var current = [Int](repeating: 0, count: target.count + 1)
    for i in 1...source.count {
        current[0] = i
        for j in 1...target.count {
            let substitution = previous[j - 1] + (source[i - 1] == target[j - 1] ? 0 : 1)
            current[j] = min(substitution, previous[j] + 1, current[j - 1] + 1)
        }
        swap(&previous, &current)
    }
    return previous[target.count]
}
