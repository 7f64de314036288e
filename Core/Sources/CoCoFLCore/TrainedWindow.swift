/// A CoCoFL configuration: the contiguous window of units [first, last] that a device trains.
public struct TrainedWindow: Hashable, Codable, Sendable, CustomStringConvertible {
    /// First trained unit.
    public let first: Int
    /// Last trained unit (inclusive).
    public let last: Int

    /// The window [first, last]; 0 ≤ first ≤ last is a precondition.
    public init(first: Int, last: Int) {
        precondition(0 <= first && first <= last, "a window needs 0 ≤ first ≤ last, got [\(first), \(last)]")
        self.first = first
        self.last = last
    }

    /// The window of full training for a model with `unitCount` units.
    public static func full(unitCount: Int) -> TrainedWindow { TrainedWindow(first: 0, last: unitCount - 1) }

    /// All n(n+1)/2 contiguous windows of a model with `unitCount` units, ordered by first, then last.
    public static func all(unitCount: Int) -> [TrainedWindow] {
        (0..<unitCount).flatMap { first in (first..<unitCount).map { TrainedWindow(first: first, last: $0) } }
    }

    /// Whether `other` lies inside this window (equal windows contain each other).
    public func contains(_ other: TrainedWindow) -> Bool { first <= other.first && other.last <= last }

    /// The trained unit indices.
    public var range: ClosedRange<Int> { first...last }
    /// "[first, last]".
    public var description: String { "[\(first), \(last)]" }
}
