/// Chooses the devices that take part in a round: `perRound` of `deviceCount`, without replacement.
public struct DeviceSampler: Sendable, Hashable {
    /// The number of devices in the federation.
    public let deviceCount: Int
    /// The number of devices chosen every round.
    public let perRound: Int

    /// Throws unless 1 ≤ `perRound` ≤ `deviceCount`, naming per_round (or devices) in the message.
    public init(perRound: Int, deviceCount: Int) throws {
        guard deviceCount >= 1 else {
            throw FederationError(.invalidDeviceCount, option: "devices",
                                  message: "devices is \(deviceCount); simulate at least 1 device")
        }
        guard perRound >= 1 && perRound <= deviceCount else {
            throw FederationError(.invalidSampling, option: "per_round",
                                  message: "per_round is \(perRound) but must be between 1 and the number of "
                                      + "devices (\(deviceCount)); choose per_round in 1...\(deviceCount)")
        }
        self.deviceCount = deviceCount
        self.perRound = perRound
    }

    /// The ids of this round's devices, ascending; each id is equally likely.
    public func sample(using generator: inout some RandomNumberGenerator) -> [Int] {
        sample(from: Array(0..<deviceCount), using: &generator)
    }

    /// `perRound` of `candidates` (all of them when there are fewer), ascending; each candidate is equally likely.
    /// With every device a candidate this is `sample(using:)` and consumes the generator the same way.
    public func sample(from candidates: [Int], using generator: inout some RandomNumberGenerator) -> [Int] {
        // A partial Fisher–Yates shuffle: the first positions are a uniform sample without replacement.
        var order = candidates
        for position in 0..<min(perRound, order.count) {
            let choice = position + Int(generator.next(upperBound: UInt64(order.count - position)))
            order.swapAt(position, choice)
        }
        return order[..<min(perRound, order.count)].sorted()
    }
}
