import CoCoFLCore
/// A named class of devices (e.g. "weak") with its size and its resource limits.
///
/// Encoded as `{"name": "medium", "share": 0.33, "time": 0.66, "memory": 0.66, "upload": {"lower": 0.5,
/// "upper": 1.0}}`, with `count` instead of `share` for a fixed number of devices; a missing limit means 1.0.
public struct DeviceGroup: Sendable, Hashable, Codable {
    /// How many devices a group has: a share of all devices, or a fixed count.
    public enum Size: Sendable, Hashable {
        /// A relative weight; shares are normalized over the groups sized by share.
        case share(Double)
        /// An exact number of devices.
        case count(Int)
    }

    /// The group's name, used in metrics and in error messages.
    public var name: String
    /// How many devices belong to the group.
    public var size: Size
    /// Time per round, as a fraction of full training.
    public var time: ResourceLimit
    /// Peak memory, as a fraction of full training.
    public var memory: ResourceLimit
    /// Upload volume, as a fraction of the full model.
    public var upload: ResourceLimit

    /// Creates a group; unspecified limits are 1.0 (unconstrained).
    public init(
        name: String, size: Size, time: ResourceLimit = .constant(1), memory: ResourceLimit = .constant(1),
        upload: ResourceLimit = .constant(1)
    ) {
        self.name = name
        self.size = size
        self.time = time
        self.memory = memory
        self.upload = upload
    }

    /// Throws unless the name is non-empty, the size positive and every limit valid.
    public func validate() throws {
        guard !name.isEmpty else {
            throw FederationError(.invalidDeviceMix, option: "name",
                                  message: "a device group has an empty name; give every group a name such as "
                                      + "\"strong\"")
        }
        switch size {
        case .share(let share):
            guard share.isFinite && share > 0 else {
                throw FederationError(.invalidDeviceMix, option: "\(name).share",
                                      message: "device group '\(name)': share \(share) must be a positive number "
                                          + "(shares are relative weights, e.g. 0.33)")
            }
        case .count(let count):
            guard count > 0 else {
                throw FederationError(.invalidDeviceMix, option: "\(name).count",
                                      message: "device group '\(name)': count \(count) must be at least 1; remove "
                                          + "the group to have no such devices")
            }
        }
        try time.validate(group: name, field: "time")
        try memory.validate(group: name, field: "memory")
        try upload.validate(group: name, field: "upload")
    }

    /// Draws this group's limits for one device in one round, in the order time, upload, memory.
    public func drawLimits(using generator: inout some RandomNumberGenerator) -> DeviceLimits {
        let time = time.draw(using: &generator)
        let upload = upload.draw(using: &generator)
        let memory = memory.draw(using: &generator)
        return DeviceLimits(time: time, memory: memory, upload: upload)
    }

    private enum CodingKeys: String, CodingKey {
        case name, share, count, time, memory, upload
    }

    /// Decodes a group; exactly one of `share` and `count` must be given.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        name = try container.decode(String.self, forKey: .name)
        let share = try container.decodeIfPresent(Double.self, forKey: .share)
        let count = try container.decodeIfPresent(Int.self, forKey: .count)
        switch (share, count) {
        case (let share?, nil): size = .share(share)
        case (nil, let count?): size = .count(count)
        default:
            throw DecodingError.dataCorruptedError(
                forKey: .share, in: container,
                debugDescription: "device group '\(name)' needs exactly one of 'share' (a relative weight) and "
                    + "'count' (a number of devices)")
        }
        time = try container.decodeIfPresent(ResourceLimit.self, forKey: .time) ?? .constant(1)
        memory = try container.decodeIfPresent(ResourceLimit.self, forKey: .memory) ?? .constant(1)
        upload = try container.decodeIfPresent(ResourceLimit.self, forKey: .upload) ?? .constant(1)
    }

    /// Encodes the group with `share` or `count` and all three limits.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(name, forKey: .name)
        switch size {
        case .share(let share): try container.encode(share, forKey: .share)
        case .count(let count): try container.encode(count, forKey: .count)
        }
        try container.encode(time, forKey: .time)
        try container.encode(memory, forKey: .memory)
        try container.encode(upload, forKey: .upload)
    }
}

/// The device groups of a run, in the order their devices are numbered.
public struct DeviceMix: Sendable, Hashable, Codable {
    /// The groups; devices 0… belong to the first group, the next ids to the second, and so on.
    public var groups: [DeviceGroup]

    /// Creates a mix from its groups.
    public init(groups: [DeviceGroup]) {
        self.groups = groups
    }

    /// The paper's mix: strong 33 % (1.0, 1.0, 1.0), medium 33 % (time 0.66, upload U(0.5, 1.0), memory 0.66),
    /// weak 34 % (time 0.33, upload U(0.5, 1.0), memory 0.33); 33/33/34 devices for N = 100.
    public static let reference = DeviceMix(groups: [
        DeviceGroup(name: "strong", size: .share(0.33),
                    time: .constant(1.0), memory: .constant(1.0), upload: .constant(1.0)),
        DeviceGroup(name: "medium", size: .share(0.33),
                    time: .constant(0.66), memory: .constant(0.66), upload: .uniform(lower: 0.5, upper: 1.0)),
        DeviceGroup(name: "weak", size: .share(0.34),
                    time: .constant(0.33), memory: .constant(0.33), upload: .uniform(lower: 0.5, upper: 1.0)),
    ])

    /// A single group of unconstrained devices, e.g. for plain FedAvg.
    public static let homogeneous = DeviceMix(groups: [DeviceGroup(name: "all", size: .share(1))])

    /// The mixes every campaign and command line knows by name.
    public static let builtIn: [String: DeviceMix] = ["reference": .reference, "homogeneous": .homogeneous]

    /// Throws unless there is at least one group, names are unique and every group is valid.
    public func validate() throws {
        guard !groups.isEmpty else {
            throw FederationError(.invalidDeviceMix, option: "groups",
                                  message: "the device mix has no groups; list at least one device group "
                                      + "(or use the reference strong/medium/weak mix)")
        }
        var seen: Set<String> = []
        for group in groups {
            try group.validate()
            guard seen.insert(group.name).inserted else {
                throw FederationError(.invalidDeviceMix, option: "\(group.name).name",
                                      message: "two device groups are named '\(group.name)'; give each group a "
                                          + "unique name")
            }
        }
    }

    /// The number of devices in each group for `deviceCount` devices.
    ///
    /// Groups sized by count get exactly that many; the rest are split over the groups sized by share in
    /// proportion to their shares, with largest-remainder rounding (ties go to the earlier group), so the counts
    /// always sum to `deviceCount`.
    public func deviceCounts(deviceCount: Int) throws -> [Int] {
        try validate()
        guard deviceCount >= 1 else {
            throw FederationError(.invalidDeviceCount, option: "devices",
                                  message: "devices is \(deviceCount); simulate at least 1 device")
        }
        var counts = [Int](repeating: 0, count: groups.count)
        var fixedTotal = 0
        var shareGroups: [(index: Int, share: Double)] = []
        for (index, group) in groups.enumerated() {
            switch group.size {
            case .count(let count):
                counts[index] = count
                fixedTotal += count
            case .share(let share):
                shareGroups.append((index, share))
            }
        }
        let remaining = deviceCount - fixedTotal
        if shareGroups.isEmpty {
            guard remaining == 0 else {
                throw FederationError(.invalidDeviceCount, option: "devices",
                                      message: "the device groups have \(fixedTotal) devices in all but devices "
                                          + "is \(deviceCount); set devices to \(fixedTotal) or size a group by "
                                          + "share instead of count")
            }
            return counts
        }
        guard remaining >= 0 else {
            throw FederationError(.invalidDeviceCount, option: "devices",
                                  message: "the device groups sized by count need \(fixedTotal) devices but "
                                      + "devices is \(deviceCount); raise devices or lower the counts")
        }
        let shareTotal = shareGroups.reduce(0) { $0 + $1.share }
        var fractions: [(index: Int, fraction: Double)] = []
        var assigned = 0
        for (index, share) in shareGroups {
            var quota = Double(remaining) * share / shareTotal
            // Shares such as 0.33 + 0.33 + 0.34 do not sum to exactly 1 in binary; snap near-integer quotas so
            // that 100 devices split 33/33/34 rather than by rounding noise.
            if abs(quota - quota.rounded()) < 1e-9 { quota = quota.rounded() }
            let whole = Int(quota.rounded(.down))
            counts[index] = whole
            assigned += whole
            fractions.append((index, quota - Double(whole)))
        }
        // Stable sort: equal remainders keep group order, so earlier groups win ties.
        let byRemainder = fractions.enumerated().sorted { left, right in
            left.element.fraction != right.element.fraction
                ? left.element.fraction > right.element.fraction : left.offset < right.offset
        }
        for position in 0..<(remaining - assigned) {
            counts[byRemainder[position].element.index] += 1
        }
        return counts
    }

    /// Assigns `deviceCount` devices to the groups: contiguous ids, first group first.
    public func population(deviceCount: Int) throws -> DevicePopulation {
        try DevicePopulation(mix: self, deviceCount: deviceCount)
    }
}

/// The devices of a run: which group each device belongs to, and how to draw their limits every round.
public struct DevicePopulation: Sendable, Hashable {
    /// The groups the devices are drawn from.
    public let mix: DeviceMix
    /// The number of devices in each group, in the order of `mix.groups`.
    public let groupSizes: [Int]
    /// The group index of each device (ids are contiguous per group, in group order).
    public let groupOfDevice: [Int]

    /// Splits `deviceCount` devices over the groups of `mix`; throws if the mix is invalid or cannot fit.
    public init(mix: DeviceMix, deviceCount: Int) throws {
        let sizes = try mix.deviceCounts(deviceCount: deviceCount)
        self.mix = mix
        self.groupSizes = sizes
        self.groupOfDevice = sizes.enumerated().flatMap { group, size in
            [Int](repeating: group, count: size)
        }
    }

    /// The number of devices.
    public var deviceCount: Int { groupOfDevice.count }

    /// The number of groups (some may have no devices when shares are small).
    public var groupCount: Int { mix.groups.count }

    /// The ids of the devices in group `index`.
    public func devices(inGroup index: Int) -> Range<Int> {
        let start = groupSizes[..<index].reduce(0, +)
        return start..<(start + groupSizes[index])
    }

    /// The group device `device` belongs to.
    public func group(ofDevice device: Int) -> DeviceGroup {
        mix.groups[groupOfDevice[device]]
    }

    /// Draws every device's limits for one round, device by device, each in the order time, upload, memory.
    ///
    /// Every device is drawn, sampled or not, so that the draws of a round do not depend on which devices take
    /// part; pass a generator derived for the round to make rounds independent of each other.
    public func drawLimits(using generator: inout some RandomNumberGenerator) -> [DeviceLimits] {
        groupOfDevice.map { mix.groups[$0].drawLimits(using: &generator) }
    }
}
