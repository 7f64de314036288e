/// Which channels of each channel space a width-scaled sub-model keeps: the one difference between HeteroFL,
/// FedRolex and Federated Dropout, which otherwise share `SubModelMap`.
///
/// Index lists are always ascending, and a space kept whole (r = 1, image channels, classes) is kept in order, so
/// every selection at r = 1 is exactly the full model.
public enum SubModelSelection: Hashable, Sendable, Codable {
    /// HeteroFL: the first ⌈r·C⌉ channels.
    case prefix
    /// FedRolex: the ⌈r·C⌉ channels of the window starting at `offset` mod C, wrapping around.
    case rolling(offset: Int)
    /// Federated Dropout: a random subset of ⌈r·C⌉ channels, drawn per channel space from `seed` and the space's
    /// name, so the same seed gives the same sub-model.
    case random(seed: UInt64)

    /// The kept global indices of a space of `size` channels named `space` when `count` of them are kept.
    public func indices(count: Int, of size: Int, space: String) -> [Int] {
        precondition(count >= 1 && count <= size, "a sub-model keeps between 1 and \(size) channels, not \(count)")
        if count == size { return Array(0..<size) }
        switch self {
        case .prefix:
            return Array(0..<count)
        case .rolling(let offset):
            let start = ((offset % size) + size) % size
            return (0..<count).map { (start + $0) % size }.sorted()
        case .random(let seed):
            var generator = SeededGenerator(seed: seed).derived("sub-model-channels/" + space)
            // A partial Fisher–Yates shuffle: the first `count` entries are a uniform random subset.
            var pool = Array(0..<size)
            for position in 0..<count {
                pool.swapAt(position, Int.random(in: position..<size, using: &generator))
            }
            return pool[0..<count].sorted()
        }
    }
}
