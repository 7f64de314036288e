/// A small, fast, seedable generator (SplitMix64) so that every random choice in the engine is reproducible.
public struct SeededGenerator: RandomNumberGenerator, Sendable, Codable, Equatable {
    /// The generator state; saving and restoring it resumes the exact sequence.
    public var state: UInt64

    /// Creates a generator whose sequence is determined by `seed`.
    public init(seed: UInt64) { state = seed }

    /// The next 64 random bits (SplitMix64).
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// An independent generator for a named stream (e.g. "init", "device-17"), so that adding a consumer of
    /// randomness elsewhere does not shift this one's sequence.
    public func derived(_ label: String) -> SeededGenerator {
        var hash: UInt64 = 0xCBF2_9CE4_8422_2325
        for byte in label.utf8 { hash = (hash ^ UInt64(byte)) &* 0x100_0000_01B3 }
        var copy = SeededGenerator(seed: state ^ hash)
        _ = copy.next()
        return copy
    }
}
