/// Chooses the devices that take part in a round: `perRound` of `deviceCount`, without replacement.
public struct DeviceSampler: Sendable, Hashable {
    /// The number of devices in the federation.
    public let deviceCount: Int
    /// The number of devices chosen every round.
    public let perRound: Int

    /// Throws unless 1 ≤ `perRound` ≤ `deviceCount`, naming --per-round (or --devices) in the message.
    public init(perRound: Int, deviceCount: Int) throws {
        guard deviceCount >= 1 else {
            throw FederationError(.invalidDeviceCount, option: "--devices",
                                  message: "--devices is \(deviceCount); simulate at least 1 device")
        }
        guard perRound >= 1 && perRound <= deviceCount else {
            throw FederationError(.invalidSampling, option: "--per-round",
                                  message: "--per-round is \(perRound) but must be between 1 and the number of "
                                      + "devices (\(deviceCount)); choose --per-round in 1...\(deviceCount)")
        }
        self.deviceCount = deviceCount
        self.perRound = perRound
    }

    /// The ids of this round's devices, ascending; each id is equally likely.
    public func sample(using generator: inout some RandomNumberGenerator) -> [Int] {
        // A partial Fisher–Yates shuffle: the first perRound positions are a uniform sample without replacement.
        var order = Array(0..<deviceCount)
        for position in 0..<perRound {
            let choice = position + Int(generator.next(upperBound: UInt64(deviceCount - position)))
            order.swapAt(position, choice)
        }
        return order[..<perRound].sorted()
    }
}
