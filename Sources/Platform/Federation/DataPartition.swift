/// How a training set is split over the devices of a federation.
///
/// Encoded as `{"kind": "iid"}`, `{"kind": "dirichlet", "alpha": 0.1, "shardSizes": "equal"}`,
/// `{"kind": "resource-correlated", "alpha": 0.1}` or `{"kind": "natural"}`.
public enum PartitionScheme: Sendable, Hashable, Codable {
    /// How many samples each device gets under a Dirichlet label skew.
    public enum ShardSizes: String, Sendable, Hashable, Codable, CaseIterable {
        /// ⌊n/N⌋ or ⌊n/N⌋ + 1 samples per device, as in the CoCoFL experiments.
        case equal
        /// Sizes follow from splitting each class by its own Dirichlet draw over devices (some may be empty).
        case natural
    }

    /// Shuffled samples in equal shares.
    case iid
    /// Label skew: Dirichlet(α) class proportions per device (equal shards) or device proportions per class.
    case dirichlet(alpha: Double, shardSizes: ShardSizes)
    /// Label skew over the device groups: every device of a group shares its group's Dirichlet(α) proportions.
    case resourceCorrelated(alpha: Double)
    /// The dataset's own writers (e.g. FEMNIST), grouped round-robin when there are more writers than devices.
    case natural

    /// The name used for `kind` in configuration files.
    public var kind: String {
        switch self {
        case .iid: "iid"
        case .dirichlet: "dirichlet"
        case .resourceCorrelated: "resource-correlated"
        case .natural: "natural"
        }
    }

    /// The kinds a configuration may name.
    public static let kinds = ["iid", "dirichlet", "resource-correlated", "natural"]

    /// The partition names of the command line and campaign files; "dirichlet-natural" is the Dirichlet split
    /// with natural shard sizes.
    public static let names = ["dirichlet", "dirichlet-natural", "resource-correlated", "iid", "natural"]

    /// Whether the partition called `name` draws a Dirichlet(α) (so α matters for it).
    public static func usesAlpha(_ name: String) -> Bool {
        ["dirichlet", "dirichlet-natural", "resource-correlated"].contains(name)
    }

    /// The scheme called `name` (one of `names`) with concentration `alpha` where it has one; nil for other names.
    public static func named(_ name: String, alpha: Double) -> PartitionScheme? {
        switch name {
        case "dirichlet": .dirichlet(alpha: alpha, shardSizes: .equal)
        case "dirichlet-natural": .dirichlet(alpha: alpha, shardSizes: .natural)
        case "resource-correlated": .resourceCorrelated(alpha: alpha)
        case "iid": .iid
        case "natural": .natural
        default: nil
        }
    }

    /// Throws unless α (where the scheme has one) is positive and finite, naming alpha.
    public func validate() throws {
        switch self {
        case .dirichlet(let alpha, _), .resourceCorrelated(let alpha):
            try Self.validate(alpha: alpha)
        case .iid, .natural:
            break
        }
    }

    static func validate(alpha: Double) throws {
        guard alpha.isFinite && alpha > 0 else {
            throw FederationError(.invalidPartition, option: "alpha",
                                  message: "alpha is \(alpha) but the Dirichlet concentration must be a positive "
                                      + "number; use e.g. alpha = 0.1 (strong label skew) or alpha = 100 (nearly "
                                      + "IID)")
        }
    }

    private enum CodingKeys: String, CodingKey {
        case kind, alpha, shardSizes
    }

    /// Decodes `{"kind": …}` with `alpha` for the Dirichlet kinds and optional `shardSizes` (default "equal").
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        let kind = try container.decode(String.self, forKey: .kind)
        switch kind {
        case "iid":
            self = .iid
        case "dirichlet":
            self = .dirichlet(
                alpha: try container.decode(Double.self, forKey: .alpha),
                shardSizes: try container.decodeIfPresent(ShardSizes.self, forKey: .shardSizes) ?? .equal)
        case "resource-correlated":
            self = .resourceCorrelated(alpha: try container.decode(Double.self, forKey: .alpha))
        case "natural":
            self = .natural
        default:
            throw DecodingError.dataCorruptedError(
                forKey: .kind, in: container,
                debugDescription: "unknown partition kind '\(kind)'; use one of "
                    + Self.kinds.joined(separator: ", "))
        }
    }

    /// Encodes `kind` and the scheme's parameters.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(kind, forKey: .kind)
        switch self {
        case .dirichlet(let alpha, let shardSizes):
            try container.encode(alpha, forKey: .alpha)
            try container.encode(shardSizes, forKey: .shardSizes)
        case .resourceCorrelated(let alpha):
            try container.encode(alpha, forKey: .alpha)
        case .iid, .natural:
            break
        }
    }
}

/// The training samples of every device: indices into the dataset and the resulting class histograms.
public struct DataPartition: Sendable, Hashable {
    /// The number of classes the histograms count.
    public let classCount: Int
    /// The dataset indices of each device's samples, ascending; no index appears twice.
    public let sampleIndices: [[Int]]
    /// The number of samples of each class on each device (`classHistograms[device][class]`).
    public let classHistograms: [[Int]]

    /// Records `sampleIndices` (sorted per device) and counts their labels.
    init(labels: [Int32], classCount: Int, sampleIndices: [[Int]]) {
        self.classCount = classCount
        self.sampleIndices = sampleIndices.map { $0.sorted() }
        self.classHistograms = sampleIndices.map { indices in
            var histogram = [Int](repeating: 0, count: classCount)
            for index in indices { histogram[Int(labels[index])] += 1 }
            return histogram
        }
    }

    /// The number of devices.
    public var deviceCount: Int { sampleIndices.count }

    /// The number of samples on each device.
    public var shardSizes: [Int] { sampleIndices.map(\.count) }

    /// The fraction of each class among device `device`'s samples (all zero for an empty device).
    public func classShares(ofDevice device: Int) -> [Double] {
        let histogram = classHistograms[device]
        let total = histogram.reduce(0, +)
        guard total > 0 else { return [Double](repeating: 0, count: classCount) }
        return histogram.map { Double($0) / Double(total) }
    }

    /// Splits `dataset` over the devices of `population` by `scheme`.
    ///
    /// The resource-correlated scheme uses the population's groups; the others use only its device count.
    public init(
        dataset: Dataset, scheme: PartitionScheme, population: DevicePopulation,
        using generator: inout some RandomNumberGenerator
    ) throws {
        switch scheme {
        case .iid:
            self = try .iid(labels: dataset.labels, classCount: dataset.classCount,
                            deviceCount: population.deviceCount, using: &generator)
        case .dirichlet(let alpha, .equal):
            self = try .dirichletEqualShards(labels: dataset.labels, classCount: dataset.classCount,
                                             deviceCount: population.deviceCount, alpha: alpha, using: &generator)
        case .dirichlet(let alpha, .natural):
            self = try .dirichletNaturalSizes(labels: dataset.labels, classCount: dataset.classCount,
                                              deviceCount: population.deviceCount, alpha: alpha, using: &generator)
        case .resourceCorrelated(let alpha):
            self = try .resourceCorrelated(labels: dataset.labels, classCount: dataset.classCount,
                                           groupOfDevice: population.groupOfDevice,
                                           groupCount: population.groupCount, alpha: alpha, using: &generator)
        case .natural:
            guard let writerIDs = dataset.writerIDs else {
                throw FederationError(.invalidPartition, option: "partition",
                                      message: "partition natural needs writer ids, but dataset "
                                          + "'\(dataset.name)' has none; choose partition iid, dirichlet or "
                                          + "resource-correlated, or a dataset with writers such as femnist")
            }
            self = try .natural(labels: dataset.labels, classCount: dataset.classCount, writerIDs: writerIDs,
                                deviceCount: population.deviceCount)
        }
    }
}

// MARK: - Shared checks and helpers

extension DataPartition {
    /// Throws unless there is at least one class and one device, every label is a class, and there are at least
    /// as many samples as devices.
    static func validate(labels: [Int32], classCount: Int, deviceCount: Int) throws {
        guard deviceCount >= 1 else {
            throw FederationError(.invalidDeviceCount, option: "devices",
                                  message: "devices is \(deviceCount); simulate at least 1 device")
        }
        guard classCount >= 1 else {
            throw FederationError(.invalidPartition, option: "classCount",
                                  message: "the dataset declares \(classCount) classes; it needs at least one")
        }
        if let position = labels.firstIndex(where: { $0 < 0 || Int($0) >= classCount }) {
            throw FederationError(.invalidPartition, option: "labels",
                                  message: "label \(labels[position]) of sample \(position) is outside "
                                      + "0..<\(classCount); the dataset's labels and class count disagree, so "
                                      + "reload or repair the dataset")
        }
        guard labels.count >= deviceCount else {
            throw FederationError(.invalidDeviceCount, option: "devices",
                                  message: "devices is \(deviceCount) but the training set has only "
                                      + "\(labels.count) samples; lower devices to at most \(labels.count)")
        }
    }

    /// ⌊n/N⌋ samples per device, the first n mod N devices one more.
    static func equalShardSizes(sampleCount: Int, deviceCount: Int) -> [Int] {
        let base = sampleCount / deviceCount
        let extra = sampleCount % deviceCount
        return (0..<deviceCount).map { base + ($0 < extra ? 1 : 0) }
    }

    /// The indices of each class's samples, each list shuffled by `generator`.
    static func shuffledClassPools(
        labels: [Int32], classCount: Int, using generator: inout some RandomNumberGenerator
    ) -> [[Int]] {
        var pools = [[Int]](repeating: [], count: classCount)
        for (index, label) in labels.enumerated() { pools[Int(label)].append(index) }
        for index in pools.indices { fisherYatesShuffle(&pools[index], using: &generator) }
        return pools
    }
}

/// Shuffles `elements` in place; spelled out so that a partition depends only on the generator, not on the
/// standard library's shuffle algorithm.
func fisherYatesShuffle<Element>(_ elements: inout [Element], using generator: inout some RandomNumberGenerator) {
    guard elements.count > 1 else { return }
    for position in stride(from: elements.count - 1, to: 0, by: -1) {
        let choice = Int(generator.next(upperBound: UInt64(position + 1)))
        elements.swapAt(position, choice)
    }
}
