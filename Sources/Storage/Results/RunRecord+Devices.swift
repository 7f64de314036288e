/// One simulated device of a run: who it is, which group it belongs to and what data it holds.
public struct DeviceRecord: Equatable, Sendable {
    /// The device's id within the run.
    public var id: Int
    /// The name of the device's group, e.g. "strong".
    public var group: String
    /// The number of training samples on the device.
    public var samples: Int
    /// How many of the device's samples belong to each class, by class index.
    public var classHistogram: [Int]

    /// Describes a device.
    public init(id: Int, group: String, samples: Int, classHistogram: [Int]) {
        self.id = id
        self.group = group
        self.samples = samples
        self.classHistogram = classHistogram
    }
}

/// The devices of a run and the names of their groups, stored under `/runs/<name>/devices`.
public struct DeviceTable: Equatable, Sendable {
    /// The group names in order; a device's group is stored as its index in this list.
    public var groupNames: [String]
    /// The devices in order.
    public var devices: [DeviceRecord]

    /// Collects devices; `groupNames` nil lists the groups in order of first appearance.
    public init(devices: [DeviceRecord], groupNames: [String]? = nil) {
        self.devices = devices
        if let groupNames {
            self.groupNames = groupNames
        } else {
            var seen: Set<String> = []
            self.groupNames = devices.map(\.group).filter { seen.insert($0).inserted }
        }
    }
}

// Devices: column datasets id, group (an index into the `group_names` attribute of the `group` dataset), samples
// and class_histogram [devices, classes].
extension RunRecord {
    /// Writes the run's devices, replacing an earlier table (a resumed run writes the same one again), and flushes.
    public func writeDevices(_ table: DeviceTable) throws {
        let devicesPath = ResultsLayout.devices
        guard Set(table.groupNames).count == table.groupNames.count else {
            throw error(.invalidValue, at: devicesPath, "group names \(table.groupNames) contain a duplicate")
        }
        let groupIndex = Dictionary(uniqueKeysWithValues: table.groupNames.enumerated().map { ($1, $0) })
        let classCount = table.devices.first?.classHistogram.count ?? 0
        var groups: [Int64] = []
        var histograms: [Int64] = []
        for device in table.devices {
            guard let index = groupIndex[device.group] else {
                throw error(
                    .invalidValue, at: devicesPath,
                    "device \(device.id) is in group '\(device.group)', which is not among the group names "
                        + "\(table.groupNames); add it there")
            }
            guard device.classHistogram.count == classCount else {
                throw error(
                    .invalidValue, at: devicesPath,
                    "device \(device.id) has a class histogram of \(device.classHistogram.count) classes, "
                        + "device \(table.devices[0].id) one of \(classCount); give every device all classes")
            }
            groups.append(Int64(index))
            histograms.append(contentsOf: device.classHistogram.map { Int64($0) })
        }
        if try group.contains(devicesPath) {
            try group.deleteChild(devicesPath)
        }
        let devices = try group.createGroup(devicesPath)
        let count = table.devices.count
        try devices.createDataset("id", values: table.devices.map { Int64($0.id) }, shape: [count])
        let groupColumn = try devices.createDataset("group", values: groups, shape: [count])
        try groupColumn.setStringArrayAttribute("group_names", to: table.groupNames)
        try devices.createDataset("samples", values: table.devices.map { Int64($0.samples) }, shape: [count])
        try devices.createDataset("class_histogram", values: histograms, shape: [count, classCount])
        try results.flush()
    }

    /// Whether the run's devices have been written.
    public func hasDevices() throws -> Bool {
        try group.kind(of: ResultsLayout.devices) == .group
    }

    /// The run's devices; throws when they have not been written.
    public func devices() throws -> DeviceTable {
        guard try hasDevices() else {
            throw error(.notFound, at: ResultsLayout.devices, "the run has no device table; write it with writeDevices")
        }
        let devices = try group.openGroup(ResultsLayout.devices)
        let ids = try devices.readDataset("id", as: Int64.self).values
        let groupColumn = try devices.openDataset("group")
        let groups = try groupColumn.read(as: Int64.self)
        let groupNames = try groupColumn.stringArrayAttribute("group_names")
        let samples = try devices.readDataset("samples", as: Int64.self).values
        let histograms = try devices.readDataset("class_histogram", as: Int64.self)
        let count = ids.count
        guard groups.count == count, samples.count == count, histograms.shape.count == 2,
            histograms.shape[0] == count
        else {
            throw error(
                .damaged, at: ResultsLayout.devices,
                "the device columns disagree in length (id \(count), group \(groups.count), samples \(samples.count), "
                    + "class_histogram \(histograms.shape))")
        }
        let classCount = histograms.shape[1]
        var records: [DeviceRecord] = []
        records.reserveCapacity(count)
        for row in 0..<count {
            let index = Int(groups[row])
            guard groupNames.indices.contains(index) else {
                throw error(
                    .damaged, at: "\(ResultsLayout.devices)/group",
                    "device \(ids[row]) has group index \(index), but there are \(groupNames.count) group names")
            }
            let histogram = histograms.values[(row * classCount)..<((row + 1) * classCount)].map { Int($0) }
            records.append(
                DeviceRecord(
                    id: Int(ids[row]), group: groupNames[index], samples: Int(samples[row]),
                    classHistogram: histogram))
        }
        return DeviceTable(devices: records, groupNames: groupNames)
    }
}
