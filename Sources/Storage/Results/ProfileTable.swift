/// The profiler's measurements of one model: one row per CoCoFL configuration (trained window of units), each
/// figure also as a ratio to full training. Stored under `/profiles/<model>/<profile-name>`.
public struct ProfileTable: Equatable, Sendable {
    /// The measurements of one configuration.
    public struct Row: Equatable, Sendable {
        /// The first trained unit of the window (inclusive).
        public var first: Int
        /// The last trained unit of the window (inclusive).
        public var last: Int
        /// Median time for one batch (forward, backward, optimizer step), in seconds.
        public var timeSeconds: Double
        /// `timeSeconds` divided by that of full training.
        public var timeRatio: Double
        /// Peak memory, in bytes.
        public var memoryBytes: Double
        /// `memoryBytes` divided by that of full training.
        public var memoryRatio: Double
        /// Bytes a device uploads after training this configuration (fp32 trained parameters and buffers).
        public var uploadBytes: Double
        /// `uploadBytes` divided by that of full training.
        public var uploadRatio: Double

        /// Collects one configuration's measurements.
        public init(
            first: Int, last: Int, timeSeconds: Double, timeRatio: Double, memoryBytes: Double, memoryRatio: Double,
            uploadBytes: Double, uploadRatio: Double
        ) {
            self.first = first
            self.last = last
            self.timeSeconds = timeSeconds
            self.timeRatio = timeRatio
            self.memoryBytes = memoryBytes
            self.memoryRatio = memoryRatio
            self.uploadBytes = uploadBytes
            self.uploadRatio = uploadRatio
        }
    }

    /// The shape of one input sample the model was profiled with, e.g. [1, 28, 28].
    public var inputShape: [Int]
    /// The batch size of the measured batches.
    public var batch: Int
    /// How many times each configuration was measured (the figures are medians).
    public var repeatCount: Int
    /// The version of cocofl that measured it.
    public var toolVersion: String
    /// One row per configuration.
    public var rows: [Row]

    /// Collects a profile.
    public init(inputShape: [Int], batch: Int, repeatCount: Int, toolVersion: String, rows: [Row]) {
        self.inputShape = inputShape
        self.batch = batch
        self.repeatCount = repeatCount
        self.toolVersion = toolVersion
        self.rows = rows
    }

    /// The float64 columns with their names in the file, in file order.
    private static var doubleColumns: [(name: String, keyPath: WritableKeyPath<Row, Double>)] {
        [
            ("time_s", \.timeSeconds), ("time_ratio", \.timeRatio), ("memory_bytes", \.memoryBytes),
            ("memory_ratio", \.memoryRatio), ("upload_bytes", \.uploadBytes), ("upload_ratio", \.uploadRatio),
        ]
    }

    func write(to results: ResultsFile, model: String, name: String) throws {
        let profilesPath = ResultsLayout.profiles
        try ResultsNames.validate(model, as: "model name", filePath: results.path, parent: profilesPath)
        let modelPath = ResultsNames.join(profilesPath, model)
        try ResultsNames.validate(name, as: "profile name", filePath: results.path, parent: modelPath)
        let path = ResultsNames.join(modelPath, name)
        let root = try results.hdf5File.rootGroup()
        if try root.contains(path) {
            try root.deleteChild(path)
        }
        let table = try root.createGroup(path)
        let count = rows.count
        try table.createDataset("first", values: rows.map { Int64($0.first) }, shape: [count])
        try table.createDataset("last", values: rows.map { Int64($0.last) }, shape: [count])
        for column in ProfileTable.doubleColumns {
            try table.createDataset(column.name, values: rows.map { $0[keyPath: column.keyPath] }, shape: [count])
        }
        try table.attributes.set("input_shape", to: .int64Array(inputShape.map { Int64($0) }))
        try table.attributes.set("batch", to: .int64(Int64(batch)))
        try table.attributes.set("repeat", to: .int64(Int64(repeatCount)))
        try table.attributes.set("tool_version", to: .string(toolVersion))
        try results.flush()
    }

    static func read(from results: ResultsFile, model: String, name: String) throws -> ProfileTable {
        let profilesPath = ResultsLayout.profiles
        try ResultsNames.validate(model, as: "model name", filePath: results.path, parent: profilesPath)
        let modelPath = ResultsNames.join(profilesPath, model)
        try ResultsNames.validate(name, as: "profile name", filePath: results.path, parent: modelPath)
        let path = ResultsNames.join(modelPath, name)
        let root = try results.hdf5File.rootGroup()
        guard try root.kind(of: path) == .group else {
            let available = try results.profileNames(model: model)
            throw results.error(
                .notFound, at: path,
                "no profile '\(name)' of model '\(model)'; "
                    + (available.isEmpty
                        ? "the model has no profiles; run the profiler first"
                        : "its profiles are \(available.map { "'\($0)'" }.joined(separator: ", "))"))
        }
        let table = try root.openGroup(path)
        let firsts = try table.readDataset("first", as: Int64.self).values
        let lasts = try table.readDataset("last", as: Int64.self).values
        var columns: [[Double]] = []
        for column in doubleColumns {
            columns.append(try table.readDataset(column.name, as: Double.self).values)
        }
        guard lasts.count == firsts.count, columns.allSatisfy({ $0.count == firsts.count }) else {
            throw results.error(.damaged, at: path, "the profile's columns have different lengths")
        }
        var rows: [Row] = []
        rows.reserveCapacity(firsts.count)
        for index in firsts.indices {
            var row = Row(
                first: Int(firsts[index]), last: Int(lasts[index]), timeSeconds: 0, timeRatio: 0, memoryBytes: 0,
                memoryRatio: 0, uploadBytes: 0, uploadRatio: 0)
            for (column, values) in zip(doubleColumns, columns) {
                row[keyPath: column.keyPath] = values[index]
            }
            rows.append(row)
        }
        let attributes = table.attributes
        return ProfileTable(
            inputShape: try attributes.int64Array("input_shape").map { Int($0) },
            batch: Int(try attributes.int64("batch")), repeatCount: Int(try attributes.int64("repeat")),
            toolVersion: try attributes.string("tool_version"), rows: rows)
    }
}
