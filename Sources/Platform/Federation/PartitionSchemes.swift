extension DataPartition {
    /// IID: the samples shuffled and cut into equal shares (the first n mod N devices get one extra sample).
    public static func iid(
        labels: [Int32], classCount: Int, deviceCount: Int, using generator: inout some RandomNumberGenerator
    ) throws -> DataPartition {
        try validate(labels: labels, classCount: classCount, deviceCount: deviceCount)
        var order = Array(labels.indices)
        fisherYatesShuffle(&order, using: &generator)
        var shards: [[Int]] = []
        var start = 0
        for size in equalShardSizes(sampleCount: labels.count, deviceCount: deviceCount) {
            shards.append(Array(order[start..<(start + size)]))
            start += size
        }
        return DataPartition(labels: labels, classCount: classCount, sampleIndices: shards)
    }

    /// Dirichlet label skew with equal shards, as in the CoCoFL experiments.
    ///
    /// Each device draws class proportions p ~ Dir(α·1_K) and fills a shard of ⌊n/N⌋ samples (the first n mod N
    /// devices one more) by drawing a class by p, renormalized over the classes that still have samples, and
    /// taking a random remaining sample of it. Devices fill their shards one after another in a seeded random
    /// order. Every sample is used exactly once.
    public static func dirichletEqualShards(
        labels: [Int32], classCount: Int, deviceCount: Int, alpha: Double,
        using generator: inout some RandomNumberGenerator
    ) throws -> DataPartition {
        try PartitionScheme.validate(alpha: alpha)
        try validate(labels: labels, classCount: classCount, deviceCount: deviceCount)
        let dirichlet = try DirichletDistribution(symmetric: alpha, dimension: classCount)
        let proportions = (0..<deviceCount).map { _ in dirichlet.sample(using: &generator) }
        let shards = fillEqualShards(labels: labels, classCount: classCount, proportions: proportions,
                                     proportionsOfDevice: Array(0..<deviceCount), order: .shardByShard,
                                     using: &generator)
        return DataPartition(labels: labels, classCount: classCount, sampleIndices: shards)
    }

    /// Dirichlet label skew with natural shard sizes (the usual per-class split).
    ///
    /// For each class, q ~ Dir(α·1_N) over the devices, and device d gets the class's shuffled samples between
    /// ⌊n_c·(q₁+…+q_{d−1})⌋ and ⌊n_c·(q₁+…+q_d)⌋. Every sample is used exactly once; with small α some devices
    /// get few or no samples.
    public static func dirichletNaturalSizes(
        labels: [Int32], classCount: Int, deviceCount: Int, alpha: Double,
        using generator: inout some RandomNumberGenerator
    ) throws -> DataPartition {
        try PartitionScheme.validate(alpha: alpha)
        try validate(labels: labels, classCount: classCount, deviceCount: deviceCount)
        let dirichlet = try DirichletDistribution(symmetric: alpha, dimension: deviceCount)
        let pools = shuffledClassPools(labels: labels, classCount: classCount, using: &generator)
        var shards = [[Int]](repeating: [], count: deviceCount)
        for pool in pools {
            let shares = dirichlet.sample(using: &generator)
            var cumulative = 0.0
            var start = 0
            for device in 0..<deviceCount {
                cumulative += shares[device]
                let boundary = Int((cumulative * Double(pool.count)).rounded(.down))
                let end = device == deviceCount - 1 ? pool.count : min(pool.count, max(start, boundary))
                shards[device].append(contentsOf: pool[start..<end])
                start = end
            }
        }
        return DataPartition(labels: labels, classCount: classCount, sampleIndices: shards)
    }

    /// Resource-correlated label skew: Dirichlet(α) class proportions per device group instead of per device.
    ///
    /// Each of the `groupCount` groups draws p ~ Dir(α·1_K); every device of the group fills an equal shard by
    /// that p as in `dirichletEqualShards`, but all devices draw one sample per turn so that the devices of a group
    /// stay alike when classes run out. `groupOfDevice[d]` is the group of device d.
    public static func resourceCorrelated(
        labels: [Int32], classCount: Int, groupOfDevice: [Int], groupCount: Int, alpha: Double,
        using generator: inout some RandomNumberGenerator
    ) throws -> DataPartition {
        try PartitionScheme.validate(alpha: alpha)
        try validate(labels: labels, classCount: classCount, deviceCount: groupOfDevice.count)
        if let device = groupOfDevice.firstIndex(where: { $0 < 0 || $0 >= groupCount }) {
            throw FederationError(.invalidPartition, option: "groups",
                                  message: "device \(device) is in group \(groupOfDevice[device]), outside the "
                                      + "\(groupCount) device groups; build the groups with DeviceMix.population")
        }
        let dirichlet = try DirichletDistribution(symmetric: alpha, dimension: classCount)
        let proportions = (0..<groupCount).map { _ in dirichlet.sample(using: &generator) }
        let shards = fillEqualShards(labels: labels, classCount: classCount, proportions: proportions,
                                     proportionsOfDevice: groupOfDevice, order: .interleaved,
                                     using: &generator)
        return DataPartition(labels: labels, classCount: classCount, sampleIndices: shards)
    }

    /// The natural partition: one device per writer, in order of writer id.
    ///
    /// With more writers than `deviceCount`, writers sorted by id go round-robin to the devices (writer rank r to
    /// device r mod N). Fewer writers than devices is an error naming devices. No randomness is involved.
    public static func natural(
        labels: [Int32], classCount: Int, writerIDs: [Int32], deviceCount: Int
    ) throws -> DataPartition {
        try validate(labels: labels, classCount: classCount, deviceCount: deviceCount)
        guard writerIDs.count == labels.count else {
            throw FederationError(.invalidPartition, option: "writerIDs",
                                  message: "there are \(writerIDs.count) writer ids for \(labels.count) samples; "
                                      + "reload or repair the dataset so that every sample has one")
        }
        let writers = Set(writerIDs).sorted()
        guard writers.count >= deviceCount else {
            throw FederationError(.invalidDeviceCount, option: "devices",
                                  message: "devices is \(deviceCount) but the dataset has only \(writers.count) "
                                      + "writers, and partition natural gives every device at least one writer; "
                                      + "lower devices to at most \(writers.count)")
        }
        var deviceOfWriter: [Int32: Int] = [:]
        for (rank, writer) in writers.enumerated() { deviceOfWriter[writer] = rank % deviceCount }
        var shards = [[Int]](repeating: [], count: deviceCount)
        for (index, writer) in writerIDs.enumerated() { shards[deviceOfWriter[writer]!].append(index) }
        return DataPartition(labels: labels, classCount: classCount, sampleIndices: shards)
    }

    /// How devices take turns while filling equal shards from a shared pool.
    private enum FillOrder {
        /// Whole shards one after another, devices in a random order. A device follows its own proportions
        /// until the classes it favours run out; the random order keeps the leftovers from always going to the
        /// same ids (ids are contiguous per group, so a fixed order would tie skew to the weak group).
        case shardByShard
        /// One sample per device per turn, so that devices sharing proportions (one group) see classes run out at
        /// the same time and end up with similar histograms.
        case interleaved
    }

    /// Fills equal shards, device d drawing classes by `proportions[proportionsOfDevice[d]]`.
    private static func fillEqualShards(
        labels: [Int32], classCount: Int, proportions: [[Double]], proportionsOfDevice: [Int], order: FillOrder,
        using generator: inout some RandomNumberGenerator
    ) -> [[Int]] {
        let deviceCount = proportionsOfDevice.count
        let sizes = equalShardSizes(sampleCount: labels.count, deviceCount: deviceCount)
        let pools = shuffledClassPools(labels: labels, classCount: classCount, using: &generator)
        // Each pool is consumed from its end; remaining[c] is the number of class-c samples not yet assigned.
        var remaining = pools.map(\.count)
        var shards = sizes.map { size in
            var shard: [Int] = []
            shard.reserveCapacity(size)
            return shard
        }
        func drawSample(forDevice device: Int) {
            let label = drawClass(weights: proportions[proportionsOfDevice[device]], remaining: remaining,
                                  using: &generator)
            remaining[label] -= 1
            shards[device].append(pools[label][remaining[label]])
        }
        switch order {
        case .shardByShard:
            var fillOrder = Array(0..<deviceCount)
            fisherYatesShuffle(&fillOrder, using: &generator)
            for device in fillOrder {
                for _ in 0..<sizes[device] { drawSample(forDevice: device) }
            }
        case .interleaved:
            for turn in 0..<(sizes.max() ?? 0) {
                for device in 0..<deviceCount where sizes[device] > turn { drawSample(forDevice: device) }
            }
        }
        return shards
    }

    /// A class with samples left, drawn by `weights` renormalized over those classes; if the weights of all of
    /// them are zero (possible for tiny α), drawn in proportion to the samples left instead.
    private static func drawClass(
        weights: [Double], remaining: [Int], using generator: inout some RandomNumberGenerator
    ) -> Int {
        var total = 0.0
        for label in weights.indices where remaining[label] > 0 { total += weights[label] }
        if total > 0 {
            let target = Double.random(in: 0..<total, using: &generator)
            var cumulative = 0.0
            var lastCandidate = -1
            for label in weights.indices where remaining[label] > 0 && weights[label] > 0 {
                cumulative += weights[label]
                lastCandidate = label
                if target < cumulative { return label }
            }
            // Rounding can leave the target just above the final sum.
            return lastCandidate
        }
        let remainingTotal = remaining.reduce(0, +)
        precondition(remainingTotal > 0, "equal shards never ask for more samples than the dataset has")
        var target = Int(generator.next(upperBound: UInt64(remainingTotal)))
        for label in remaining.indices {
            if target < remaining[label] { return label }
            target -= remaining[label]
        }
        preconditionFailure("the target lies within the remaining samples")
    }
}
