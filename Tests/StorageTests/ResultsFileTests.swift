import CoCoFLCore
import Foundation
import NN
import Storage
import Testing

@Suite("Results files")
struct ResultsFileTests {
    static let toolVersion = "0.1.0-test"
    static let started = Date(timeIntervalSince1970: 1_740_000_000)
    static let finished = Date(timeIntervalSince1970: 1_740_003_600)

    static let specification = RunSpecification(
        strategy: "cocofl", dataset: "fashion-mnist", model: "resnet8", seed: 42,
        configuration: #"{"rounds":100,"devices":{"count":100,"groups":["strong","medium","weak"]},"lr":0.1}"#,
        toolVersion: toolVersion)

    /// A new results file in `directory`, created for writing.
    static func makeFile(in directory: URL, name: String = "campaign.h5") throws -> ResultsFile {
        try ResultsFile(
            path: directory.appendingPathComponent(name).path, access: .createOrAppend(toolVersion: toolVersion))
    }

    /// Whether two columns hold the same numbers, with NaN equal to NaN.
    static func sameColumn(_ actual: [Double]?, _ expected: [Double]) -> Bool {
        guard let actual, actual.count == expected.count else { return false }
        return zip(actual, expected).allSatisfy { $0.isNaN ? $1.isNaN : $0 == $1 }
    }

    /// Parameters shaped like part of a CIFAR ResNet `state_dict`, one array large enough to be compressed.
    static func sampleParameters(scale: Float) -> [NamedArray] {
        let shapes: [(String, [Int])] = [
            ("conv1.weight", [16, 3, 3, 3]),
            ("bn1.running_mean", [16]),
            ("layer1.0.conv1.weight", [32, 16, 3, 3]),
            ("layer1.0.shortcut.1.running_var", [32]),
            ("linear.weight", [10, 32]),
        ]
        return shapes.map { key, shape in
            let count = shape.reduce(1, *)
            return NamedArray(
                key: key, shape: shape, values: (0..<count).map { Float($0 % 97) * scale - Float(key.count) })
        }
    }

    // MARK: File

    @Test("a new file records its format version and creator, and has the top-level groups")
    func newFile() throws {
        try withTemporaryDirectory { directory in
            let results = try Self.makeFile(in: directory)
            #expect(results.formatVersion == ResultsFile.currentFormatVersion)
            #expect(ResultsFile.currentFormatVersion == 2)
            #expect(try results.createdBy() == "cocofl \(Self.toolVersion)")
            #expect(try results.hdf5File.attributes.int64("format_version") == ResultsFile.currentFormatVersion)
            #expect(try results.hdf5File.rootGroup().children() == ["profiles", "runs"])
            #expect(try results.runs().isEmpty)
            #expect(!results.isReadOnly)
        }
    }

    @Test("an empty file is turned into a results file; a missing one cannot be opened read-only")
    func emptyAndMissing() throws {
        try withTemporaryDirectory { directory in
            let empty = directory.appendingPathComponent("empty.h5").path
            #expect(FileManager.default.createFile(atPath: empty, contents: Data()))
            #expect(try ResultsFile(path: empty, access: .createOrAppend(toolVersion: "1")).formatVersion == ResultsFile.currentFormatVersion)

            let missing = directory.appendingPathComponent("missing.h5").path
            let error = try #require(throws: HDF5Error.self) { try ResultsFile(path: missing, access: .readOnly) }
            #expect(error.kind == .notFound)
            #expect(!FileManager.default.fileExists(atPath: missing))
        }
    }

    @Test("a newer format version is refused with the file and the version named, and the file is unchanged",
        arguments: [ResultsFile.Access.readOnly, .createOrAppend(toolVersion: "0.1.0")])
    func newerVersionRefused(access: ResultsFile.Access) throws {
        try withTemporaryDirectory { directory in
            let path = directory.appendingPathComponent("future.h5").path
            do {
                let results = try ResultsFile(path: path, access: .createOrAppend(toolVersion: "9.0"))
                try results.hdf5File.attributes.set("format_version", to: .int64(ResultsFile.currentFormatVersion + 1))
                try results.hdf5File.flush()
            }
            let before = try Data(contentsOf: URL(fileURLWithPath: path))
            let error = try #require(throws: ResultsError.self) { try ResultsFile(path: path, access: access) }
            let newer = ResultsFile.currentFormatVersion + 1
            #expect(error.kind == .newerFormatVersion(found: newer, newestReadable: ResultsFile.currentFormatVersion))
            #expect(error.filePath == path)
            #expect(error.description.contains(path))
            #expect(error.description.contains("format_version \(newer)"))
            #expect(try Data(contentsOf: URL(fileURLWithPath: path)) == before)
        }
    }

    @Test("a file that is not HDF5 is refused and left unchanged")
    func notHDF5() throws {
        try withTemporaryDirectory { directory in
            let path = directory.appendingPathComponent("results.csv").path
            let original = Data("round,accuracy\n1,0.5\n".utf8)
            try original.write(to: URL(fileURLWithPath: path))
            for access in [ResultsFile.Access.readOnly, .createOrAppend(toolVersion: "0.1.0")] {
                let error = try #require(throws: HDF5Error.self) { try ResultsFile(path: path, access: access) }
                #expect(error.kind == .notHDF5File)
                #expect(error.description.contains(path))
            }
            #expect(try Data(contentsOf: URL(fileURLWithPath: path)) == original)
        }
    }

    @Test("an HDF5 file without format_version is not taken for a results file")
    func foreignHDF5() throws {
        try withTemporaryDirectory { directory in
            let path = directory.appendingPathComponent("other.h5").path
            do {
                try HDF5File(path: path, mode: .createExclusive).rootGroup().createDataset(
                    "x", values: [1.0, 2.0], shape: [2])
            }
            let before = try Data(contentsOf: URL(fileURLWithPath: path))
            let error = try #require(throws: ResultsError.self) {
                try ResultsFile(path: path, access: .createOrAppend(toolVersion: "0.1.0"))
            }
            #expect(error.kind == .notAResultsFile)
            #expect(error.description.contains(path))
            #expect(try Data(contentsOf: URL(fileURLWithPath: path)) == before)
        }
    }

    // MARK: Runs

    @Test("run metadata round-trips, and runs are listed with their status")
    func runMetadata() throws {
        try withTemporaryDirectory { directory in
            let results = try Self.makeFile(in: directory)
            let run = try results.createRun("cocofl_seed42", specification: Self.specification, startedAt: Self.started)
            #expect(run.path == "/runs/cocofl_seed42")
            let metadata = try run.metadata()
            #expect(metadata.name == "cocofl_seed42")
            #expect(metadata.specification == Self.specification)
            #expect(metadata.status == .running)
            #expect(metadata.statusMessage == "")
            #expect(metadata.startedAt == Self.started)
            #expect(metadata.finishedAt == nil)
            #expect(try run.results.hdf5File.rootGroup().openGroup(run.path).attributes.string("started_at")
                == "2025-02-19T21:20:00Z")

            var heterofl = Self.specification
            heterofl.strategy = "heterofl"
            try results.createRun("heterofl_seed42", specification: heterofl)
                .setStatus(.failed, message: "device 7: no feasible configuration", at: Self.finished)
            #expect(try results.runNames() == ["cocofl_seed42", "heterofl_seed42"])
            #expect(try results.runs() == [
                RunSummary(name: "cocofl_seed42", status: .running, statusMessage: ""),
                RunSummary(
                    name: "heterofl_seed42", status: .failed, statusMessage: "device 7: no feasible configuration"),
            ])
            let failed = try results.openRun("heterofl_seed42").metadata()
            #expect(failed.specification.strategy == "heterofl")
            #expect(failed.finishedAt == Self.finished)
            #expect(try results.containsRun("heterofl_seed42"))
            #expect(try !results.containsRun("fedavg_seed42"))
        }
    }

    @Test("every status round-trips; running clears finished_at", arguments: RunStatus.allCases)
    func statuses(status: RunStatus) throws {
        try withTemporaryDirectory { directory in
            let results = try Self.makeFile(in: directory)
            let run = try results.createRun("run", specification: Self.specification, startedAt: Self.started)
            try run.setStatus(status, message: "note for \(status.rawValue)", at: Self.finished)
            let metadata = try results.openRun("run").metadata()
            #expect(metadata.status == status)
            #expect(metadata.statusMessage == "note for \(status.rawValue)")
            #expect(metadata.finishedAt == (status == .running ? nil : Self.finished))
            try run.setStatus(.running)
            #expect(try run.metadata().finishedAt == nil)
            #expect(try run.summary() == RunSummary(name: "run", status: .running, statusMessage: ""))
        }
    }

    @Test("bad run names, duplicate runs, unknown runs and bad configurations get clear errors")
    func runErrors() throws {
        try withTemporaryDirectory { directory in
            let results = try Self.makeFile(in: directory)
            try results.createRun("a", specification: Self.specification)

            let duplicate = try #require(throws: ResultsError.self) {
                try results.createRun("a", specification: Self.specification)
            }
            #expect(duplicate.kind == .alreadyExists)
            #expect(duplicate.description.contains("openRun"))

            let unknown = try #require(throws: ResultsError.self) { try results.openRun("b") }
            #expect(unknown.kind == .notFound)
            #expect(unknown.description.contains("'a'"))

            for name in ["", "x/y", ".", ".."] {
                let error = try #require(throws: ResultsError.self) {
                    try results.createRun(name, specification: Self.specification)
                }
                #expect(error.kind == .invalidName)
            }

            var broken = Self.specification
            broken.configuration = "{rounds: 100"
            let configuration = try #require(throws: ResultsError.self) {
                try results.createRun("c", specification: broken)
            }
            #expect(configuration.kind == .invalidValue)
            #expect(configuration.description.contains("JSON"))
            #expect(try results.runNames() == ["a"])
        }
    }

    // MARK: Metrics

    @Test("metrics keep equal lengths: missing values and late metrics are NaN")
    func metricsBackFill() throws {
        try withTemporaryDirectory { directory in
            let results = try Self.makeFile(in: directory)
            let run = try results.createRun("run", specification: Self.specification)
            #expect(try run.metrics() == ["round": []])
            #expect(try run.lastMetricsRound() == nil)

            try run.appendMetrics(round: 0, values: ["accuracy": 0.1, "loss": 2.3])
            try run.appendMetrics(round: 5, values: ["accuracy": 0.4])
            try run.appendMetrics(round: 10, values: ["loss": 1.1, "participants": 27])
            let metrics = try results.openRun("run").metrics()
            #expect(metrics.keys.sorted() == ["accuracy", "loss", "participants", "round"])
            #expect(metrics["round"] == [0, 5, 10])
            #expect(Self.sameColumn(metrics["accuracy"], [0.1, 0.4, .nan]))
            #expect(Self.sameColumn(metrics["loss"], [2.3, .nan, 1.1]))
            #expect(Self.sameColumn(metrics["participants"], [.nan, .nan, 27]))
            #expect(try run.metricNames() == ["accuracy", "loss", "participants", "round"])
            #expect(try run.lastMetricsRound() == 10)
            let column = try results.hdf5File.rootGroup().openDataset("/runs/run/metrics/accuracy")
            #expect(try column.elementType() == .float64)
            #expect(try column.isExtendible())
        }
    }

    @Test("rounds must increase; discarding rounds lets a resumed run redo them")
    func metricsRoundOrder() throws {
        try withTemporaryDirectory { directory in
            let results = try Self.makeFile(in: directory)
            let run = try results.createRun("run", specification: Self.specification)
            for round in 1...4 {
                try run.appendMetrics(round: round, values: ["accuracy": Double(round) / 10])
            }
            let repeated = try #require(throws: ResultsError.self) {
                try run.appendMetrics(round: 4, values: ["accuracy": 0.9])
            }
            #expect(repeated.kind == .invalidValue)
            #expect(repeated.description.contains("discardMetrics"))
            let reserved = try #require(throws: ResultsError.self) {
                try run.appendMetrics(round: 5, values: ["round": 5])
            }
            #expect(reserved.kind == .invalidName)
            let slash = try #require(throws: ResultsError.self) {
                try run.appendMetrics(round: 5, values: ["test/accuracy": 5])
            }
            #expect(slash.kind == .invalidName)

            try run.discardMetrics(afterRound: 2)
            #expect(try run.metrics() == ["round": [1, 2], "accuracy": [0.1, 0.2]])
            try run.appendMetrics(round: 3, values: ["accuracy": 0.35])
            #expect(try run.metrics() == ["round": [1, 2, 3], "accuracy": [0.1, 0.2, 0.35]])
        }
    }

    // MARK: Checkpoints

    @Test("checkpoints round-trip dotted keys, 4-D shapes and resume state; large arrays are compressed")
    func checkpoints() throws {
        try withTemporaryDirectory { directory in
            let results = try Self.makeFile(in: directory)
            let run = try results.createRun("run", specification: Self.specification)
            #expect(try run.latestCheckpoint() == nil)
            let state: [String: HDF5AttributeValue] = [
                "generator_state": .int64Array([1, -2, Int64.max, 4]),
                "learning_rate": .double(0.05),
                "schedule": .string("cosine"),
            ]
            try run.writeCheckpoint(round: 5, parameters: Self.sampleParameters(scale: 0.5), state: state)
            try run.writeCheckpoint(round: 10, parameters: Self.sampleParameters(scale: 0.25), state: state)

            let latest = try #require(try results.openRun("run").latestCheckpoint())
            #expect(latest.round == 10)
            #expect(latest.state == state)
            let expected = Self.sampleParameters(scale: 0.25).sorted { $0.key < $1.key }
            #expect(latest.parameters == expected)
            #expect(latest.parameter("layer1.0.conv1.weight")?.shape == [32, 16, 3, 3])
            #expect(try run.checkpoint(round: 5).parameters == Self.sampleParameters(scale: 0.5).sorted {
                $0.key < $1.key
            })
            #expect(try run.checkpointRounds() == [5, 10])

            // Dots are part of the link name: no group called "layer1" is made.
            let roundGroup = try results.hdf5File.rootGroup().openGroup("/runs/run/checkpoints/round_10")
            #expect(try roundGroup.children().contains("layer1.0.conv1.weight"))
            #expect(try !roundGroup.contains("layer1"))
            #expect(try roundGroup.attributes.int64("round") == 10)
            let large = try roundGroup.openDataset("layer1.0.conv1.weight")
            #expect(try large.compression() != .none)
            #expect(try large.elementType() == .float32)
            #expect(try roundGroup.openDataset("bn1.running_mean").compression() == .none)

            let missing = try #require(throws: ResultsError.self) { try run.checkpoint(round: 7) }
            #expect(missing.kind == .notFound)
            #expect(missing.description.contains("[5, 10]"))
        }
    }

    @Test("rewriting a round replaces it, keepLast prunes, and incomplete checkpoints are skipped")
    func checkpointLifecycle() throws {
        try withTemporaryDirectory { directory in
            let results = try Self.makeFile(in: directory)
            let run = try results.createRun("run", specification: Self.specification)
            let small = [NamedArray(key: "linear.bias", shape: [2], values: [1, 2])]
            for round in [2, 4, 6] {
                try run.writeCheckpoint(round: round, parameters: small, state: ["position": .int64(Int64(round))])
            }
            try run.writeCheckpoint(
                round: 6, parameters: [NamedArray(key: "linear.bias", shape: [2], values: [3, 4])])
            #expect(try run.checkpoint(round: 6).parameters[0].values == [3, 4])
            #expect(try run.checkpoint(round: 6).state.isEmpty)

            try run.writeCheckpoint(round: 8, parameters: small, keepLast: 2)
            #expect(try run.checkpointRounds() == [6, 8])

            // A writer that stopped half-way leaves a round group without its `round` attribute.
            try results.hdf5File.rootGroup().createDataset(
                "/runs/run/checkpoints/round_9/linear.bias", values: [Float(9), 9], shape: [2])
            #expect(try run.checkpointRounds() == [6, 8])
            #expect(try run.latestCheckpoint()?.round == 8)
            let incomplete = try #require(throws: ResultsError.self) { try run.checkpoint(round: 9) }
            #expect(incomplete.kind == .notFound)
            #expect(incomplete.description.contains("incomplete"))

            try run.discardCheckpoints(afterRound: 6)
            #expect(try run.checkpointRounds() == [6])
            #expect(try results.hdf5File.rootGroup().openGroup("/runs/run/checkpoints").children() == ["round_6"])

            let reserved = try #require(throws: ResultsError.self) {
                try run.writeCheckpoint(round: 12, parameters: small, state: ["round": .int64(1)])
            }
            #expect(reserved.kind == .invalidName)
            let badShape = try #require(throws: ResultsError.self) {
                try run.writeCheckpoint(
                    round: 12, parameters: [NamedArray(key: "conv1.weight", shape: [2, 2], values: [1])])
            }
            #expect(badShape.kind == .invalidValue)
            #expect(badShape.description.contains("conv1.weight"))
        }
    }

    // MARK: Devices

    @Test("devices round-trip with group names and class histograms")
    func devices() throws {
        try withTemporaryDirectory { directory in
            let results = try Self.makeFile(in: directory)
            let run = try results.createRun("run", specification: Self.specification)
            #expect(try !run.hasDevices())
            let table = DeviceTable(devices: [
                DeviceRecord(id: 0, group: "weak", samples: 600, classHistogram: [60, 0, 540]),
                DeviceRecord(id: 1, group: "strong", samples: 500, classHistogram: [100, 200, 200]),
                DeviceRecord(id: 2, group: "weak", samples: 7, classHistogram: [0, 7, 0]),
            ], groupNames: ["strong", "medium", "weak"])
            try run.writeDevices(table)
            #expect(try results.openRun("run").devices() == table)

            let devices = try results.hdf5File.rootGroup().openGroup("/runs/run/devices")
            #expect(try devices.readDataset("group", as: Int64.self).values == [2, 0, 2])
            #expect(try devices.readDataset("class_histogram", as: Int64.self).shape == [3, 3])

            // Written again (a resumed run), the table is replaced; default group names follow first appearance.
            let smaller = DeviceTable(devices: [DeviceRecord(id: 5, group: "medium", samples: 1, classHistogram: [1])])
            #expect(smaller.groupNames == ["medium"])
            try run.writeDevices(smaller)
            #expect(try run.devices() == smaller)

            try run.writeDevices(DeviceTable(devices: []))
            #expect(try run.devices() == DeviceTable(devices: [], groupNames: []))
        }
    }

    @Test("inconsistent device tables are refused")
    func deviceErrors() throws {
        try withTemporaryDirectory { directory in
            let run = try Self.makeFile(in: directory).createRun("run", specification: Self.specification)
            let unknownGroup = try #require(throws: ResultsError.self) {
                try run.writeDevices(
                    DeviceTable(
                        devices: [DeviceRecord(id: 3, group: "tiny", samples: 1, classHistogram: [1])],
                        groupNames: ["strong"]))
            }
            #expect(unknownGroup.kind == .invalidValue)
            #expect(unknownGroup.description.contains("tiny"))
            let ragged = try #require(throws: ResultsError.self) {
                try run.writeDevices(
                    DeviceTable(devices: [
                        DeviceRecord(id: 0, group: "a", samples: 1, classHistogram: [1, 0]),
                        DeviceRecord(id: 1, group: "a", samples: 1, classHistogram: [1]),
                    ]))
            }
            #expect(ragged.kind == .invalidValue)
            #expect(try !run.hasDevices())
            #expect(throws: ResultsError.self) { try run.devices() }
        }
    }

    // MARK: Profiles

    @Test("profiles round-trip and are listed by model")
    func profiles() throws {
        try withTemporaryDirectory { directory in
            let results = try Self.makeFile(in: directory)
            let table = ProfileTable(
                inputShape: [1, 28, 28], batch: 32, repeatCount: 5, toolVersion: Self.toolVersion,
                rows: [
                    .init(
                        first: 0, last: 4, timeSeconds: 0.0123, timeRatio: 1, memoryBytes: 8_388_608, memoryRatio: 1,
                        uploadBytes: 312_000, uploadRatio: 1),
                    .init(
                        first: 2, last: 3, timeSeconds: 0.0061, timeRatio: 0.4959, memoryBytes: 3_145_728,
                        memoryRatio: 0.375, uploadBytes: 148_000, uploadRatio: 0.4744),
                ])
            try results.writeProfile(table, model: "resnet8", name: "cpu-default")
            try results.writeProfile(
                ProfileTable(inputShape: [3, 32, 32], batch: 8, repeatCount: 1, toolVersion: "x", rows: []),
                model: "mobilenetv2", name: "quick")
            #expect(try results.profile(model: "resnet8", name: "cpu-default") == table)
            #expect(try results.profiledModels() == ["mobilenetv2", "resnet8"])
            #expect(try results.profileNames(model: "resnet8") == ["cpu-default"])
            #expect(try results.profileNames(model: "densenet40") == [])

            var updated = table
            updated.repeatCount = 9
            try results.writeProfile(updated, model: "resnet8", name: "cpu-default")
            #expect(try results.profile(model: "resnet8", name: "cpu-default") == updated)

            let missing = try #require(throws: ResultsError.self) {
                try results.profile(model: "resnet8", name: "gpu")
            }
            #expect(missing.kind == .notFound)
            #expect(missing.description.contains("cpu-default"))
        }
    }

    // MARK: Resuming, durability, external tools

    @Test("reopening a file continues a run where it stopped")
    func reopenAndAppend() throws {
        try withTemporaryDirectory { directory in
            let path = directory.appendingPathComponent("campaign.h5").path
            do {
                let results = try ResultsFile(path: path, access: .createOrAppend(toolVersion: "0.1.0"))
                let run = try results.createRun("run", specification: Self.specification)
                for round in 1...3 {
                    try run.appendMetrics(round: round, values: ["accuracy": Double(round)])
                }
                try run.writeCheckpoint(
                    round: 3, parameters: Self.sampleParameters(scale: 1), state: ["position": .int64(3)])
            }
            do {
                let results = try ResultsFile(path: path, access: .createOrAppend(toolVersion: "0.2.0"))
                #expect(try results.createdBy() == "cocofl 0.1.0")
                let run = try results.openRun("run")
                let checkpoint = try #require(try run.latestCheckpoint())
                #expect(checkpoint.state["position"] == .int64(3))
                try run.discardMetrics(afterRound: checkpoint.round)
                try run.setStatus(.running, message: "resumed from round \(checkpoint.round)")
                for round in 4...5 {
                    try run.appendMetrics(round: round, values: ["accuracy": Double(round), "loss": 1])
                }
                try run.setStatus(.complete, at: Self.finished)
                try results.createRun("second", specification: Self.specification)
            }
            let results = try ResultsFile(path: path, access: .readOnly)
            #expect(results.isReadOnly)
            let run = try results.openRun("run")
            let metrics = try run.metrics()
            #expect(metrics["round"] == [1, 2, 3, 4, 5])
            #expect(metrics["accuracy"] == [1, 2, 3, 4, 5])
            #expect(Self.sameColumn(metrics["loss"], [.nan, .nan, .nan, 1, 1]))
            #expect(try run.metadata().status == .complete)
            #expect(try results.runNames() == ["run", "second"])
            let readOnly = try #require(throws: HDF5Error.self) {
                try run.appendMetrics(round: 6, values: ["accuracy": 6])
            }
            #expect(readOnly.kind == .invalidRequest)
        }
    }

    @Test("metrics appended (and flushed) are readable from a copy of the still-open file")
    func durability() throws {
        try withTemporaryDirectory { directory in
            let path = directory.appendingPathComponent("live.h5").path
            let results = try ResultsFile(path: path, access: .createOrAppend(toolVersion: "0.1.0"))
            let run = try results.createRun("run", specification: Self.specification)
            try run.writeDevices(
                DeviceTable(devices: [DeviceRecord(id: 0, group: "strong", samples: 10, classHistogram: [4, 6])]))
            for round in 1...30 {
                try run.appendMetrics(round: round, values: ["accuracy": Double(round) / 30])
                if round == 20 {
                    try run.writeCheckpoint(round: 20, parameters: Self.sampleParameters(scale: 2))
                }
                guard [1, 20, 30].contains(round) else { continue }

                let snapshot = directory.appendingPathComponent("crash_\(round).h5").path
                try FileManager.default.copyItem(atPath: path, toPath: snapshot)
                let recovered = try ResultsFile(path: snapshot, access: .readOnly).openRun("run")
                #expect(try recovered.metrics()["round"] == (1...round).map(Double.init))
                #expect(try recovered.metrics()["accuracy"] == (1...round).map { Double($0) / 30 })
                #expect(try recovered.metadata().status == .running)
                #expect(try recovered.devices().devices.count == 1)
                #expect(try recovered.latestCheckpoint()?.round == (round >= 20 ? 20 : nil))
            }
            withExtendedLifetime(results) {}
        }
    }

    @Test("h5dump -H lists the documented names")
    func h5dumpHeader() throws {
        try withTemporaryDirectory { directory in
            let path = directory.appendingPathComponent("campaign.h5").path
            do {
                let results = try ResultsFile(path: path, access: .createOrAppend(toolVersion: "0.1.0"))
                let run = try results.createRun("cocofl_seed42", specification: Self.specification)
                try run.appendMetrics(round: 1, values: ["accuracy": 0.5])
                try run.writeCheckpoint(
                    round: 1, parameters: Self.sampleParameters(scale: 1), state: ["lr": .double(1)])
                try run.writeDevices(
                    DeviceTable(devices: [DeviceRecord(id: 0, group: "weak", samples: 3, classHistogram: [1, 2])]))
                try results.writeProfile(
                    ProfileTable(inputShape: [1, 28, 28], batch: 32, repeatCount: 3, toolVersion: "0.1.0", rows: []),
                    model: "resnet8", name: "default")
            }
            guard let header = try h5dump(["-H", path]) else { return }  // hdf5-tools not installed
            for expected in [
                #"ATTRIBUTE "format_version""#, #"ATTRIBUTE "created_by""#, #"GROUP "runs""#,
                #"GROUP "cocofl_seed42""#, #"ATTRIBUTE "configuration""#, #"ATTRIBUTE "status""#,
                #"ATTRIBUTE "started_at""#, #"GROUP "metrics""#, #"DATASET "round""#, #"DATASET "accuracy""#,
                #"GROUP "round_1""#, #"DATASET "layer1.0.conv1.weight""#, "H5T_IEEE_F32LE",
                "( 32, 16, 3, 3 )", #"GROUP "devices""#, #"ATTRIBUTE "group_names""#,
                #"DATASET "class_histogram""#, #"GROUP "profiles""#, #"GROUP "resnet8""#, #"DATASET "time_s""#,
                #"DATASET "upload_ratio""#, #"ATTRIBUTE "repeat""#,
            ] {
                #expect(header.contains(expected), "h5dump -H lacks \(expected)")
            }
            let status = try #require(try h5dump(["-a", "/runs/cocofl_seed42/status", path]))
            #expect(status.contains(#""running""#))
        }
    }
}
