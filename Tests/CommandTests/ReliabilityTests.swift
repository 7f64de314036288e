import CoCoFLCore
import CHDF5
import Foundation
import NN
import Platform
import Strategies
import Storage
import Testing
import TestSupport

/// Stopping on signals, bad numbers and a full disk, through the `cocofl` binary (and the simulation for NaN).
@Suite("Reliability", .heavy, .serialized)
struct ReliabilityTests {
    /// A fedavg campaign: fedavg never reads the profile, so its results do not depend on this machine's timings
    /// and two invocations can be compared bit for bit.
    static func fedavgCampaign(rounds: Int, checkpointEvery: Int = 2) -> String {
        """
        description = "reliability tests"
        [grid]
        strategies = ["fedavg"]
        datasets = ["fashion-mnist"]
        models = ["resnet8"]
        alphas = [0.5]
        seeds = [4]

        [run]
        rounds = \(rounds)
        devices = 6
        per_round = 2
        eval_every = 1
        checkpoint_every = \(checkpointEvery)
        train_subset = 600
        test_subset = 100
        lr = 0.05
        bn_eval = "aggregated"
        """
    }

    static let runName = "fedavg-fashion-mnist-resnet8-a0.5-s4"
    static let compared = ["accuracy", "loss", "upload_bytes", "participants", "skipped", "dropped_nonfinite", "training_loss",
                           "learning_rate", "group_gap", "accuracy_strong", "accuracy_medium", "accuracy_weak"]

    /// Metrics and the final checkpoint of the run in `path`.
    static func contents(of path: String) throws -> (metrics: [String: [Double]], parameters: [NamedArray], status: RunStatus) {
        let record = try ResultsFile(path: path, access: .readOnly).openRun(runName)
        let metrics = try record.metrics()
        return (metrics.filter { compared.contains($0.key) || $0.key == "round" }, try record.latestCheckpoint()?.parameters ?? [],
                try record.summary().status)
    }

    /// Expects the run in `path` complete, with every compared metric and the final checkpoint bit-identical to the
    /// run in `reference`.
    static func expectCompleteAndIdentical(_ path: String, to reference: String,
                                           sourceLocation: SourceLocation = #_sourceLocation) throws {
        let (expected, finished) = (try contents(of: reference), try contents(of: path))
        #expect(finished.status == .complete, sourceLocation: sourceLocation)
        for name in compared + ["round"] {
            #expect(finished.metrics[name] == expected.metrics[name],
                    "\(name): \(finished.metrics[name] ?? []) vs \(expected.metrics[name] ?? [])", sourceLocation: sourceLocation)
        }
        let sameParameters = finished.parameters == expected.parameters
        #expect(sameParameters, "the final checkpoints differ", sourceLocation: sourceLocation)
    }

    @Test("SIGTERM and SIGINT stop after a completed round: status interrupted, a re-run resumes bit-identically",
          arguments: [SIGTERM, SIGINT])
    func stopOnSignal(signal: Int32) throws {
        let directory = try TemporaryDirectory()
        let text = Self.fedavgCampaign(rounds: 5, checkpointEvery: 4)
        let campaign = try directory.write("c.toml", text)
        let out = directory.path("stopped.h5")
        let uninterrupted = try ReferenceCampaigns.run(text)
        let reference = uninterrupted.path
        #expect(!uninterrupted.result.error.contains("profiling"), "fedavg does not need the profile: \(uninterrupted.result.error)")

        let launched = try Tool.launch(["campaign", campaign, "--out", out, "--plain"])
        var seen = launched.readError(until: "round 2/5")
        try #require(seen.contains("round 2/5"), "the campaign never reported round 2: \(seen)")
        kill(launched.process.processIdentifier, signal)
        seen += String(decoding: launched.errorPipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        launched.process.waitUntilExit()
        #expect(launched.process.terminationReason == .exit)
        #expect(launched.process.terminationStatus == 128 + signal, "\(seen)")
        #expect(seen.contains("resume with: cocofl campaign \(campaign) --out \(out)"), "\(seen)")

        let stopped = try Self.contents(of: out)
        #expect(stopped.status == .interrupted)
        let rounds = stopped.metrics["round"] ?? []
        #expect(rounds.count >= 2 && rounds.count < 5, "rounds \(rounds)")
        #expect(rounds == (1...max(1, rounds.count)).map(Double.init))
        // The last completed round is checkpointed even though checkpoint_every is 4. (The reading handle must be
        // closed before the tool runs again: HDF5 locks files open for reading.)
        do {
            let record = try ResultsFile(path: out, access: .readOnly).openRun(Self.runName)
            #expect(try record.checkpointRounds().last == rounds.count)
            #expect(try record.summary().statusMessage == "after round \(rounds.count) of 5")
        }

        let resumed = try Tool.run(["campaign", campaign, "--out", out, "--plain"])
        #expect(resumed.status == 0, "\(resumed.error)")
        #expect(resumed.error.contains("resuming after round \(rounds.count)"), "\(resumed.error)")
        try Self.expectCompleteAndIdentical(out, to: reference)
    }

    @Test("cocofl run --out is a one-run campaign: SIGTERM checkpoints, the same command resumes bit-identically, then skips")
    func runOutResumes() throws {
        let directory = try TemporaryDirectory()
        let arguments = ["run", "--strategy", "fedavg", "--rounds", "5", "--devices", "6", "--per-round", "2", "--alpha", "0.5",
                         "--seed", "4", "--eval-every", "1", "--checkpoint-every", "4", "--train-subset", "600",
                         "--test-subset", "100", "--lr", "0.05", "--bn-eval", "aggregated", "--name", Self.runName]
        func roundLines(_ output: String) -> [String] { output.split(separator: "\n").map(String.init).filter { $0.hasPrefix("round ") } }
        // The same run as the uninterrupted campaign the signal tests compare with: `cocofl run` is a one-run campaign.
        let reference = try ReferenceCampaigns.run(Self.fedavgCampaign(rounds: 5, checkpointEvery: 4)).path
        let out = directory.path("stopped.h5")

        let launched = try Tool.launch(arguments + ["--out", out])
        let printed = launched.readOutput(until: "round    2")
        try #require(printed.contains("round    2"), "the run never printed round 2: \(printed)")
        kill(launched.process.processIdentifier, SIGTERM)
        let error = String(decoding: launched.errorPipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        launched.process.waitUntilExit()
        #expect(launched.process.terminationStatus == 128 + SIGTERM, "\(error)")
        #expect(error.contains("checkpointed there with status interrupted; resume with the same command"), "\(error)")
        let stopped = try Self.contents(of: out)
        #expect(stopped.status == .interrupted)
        let done = stopped.metrics["round"]?.count ?? 0
        #expect(done >= 2 && done < 5, "rounds \(stopped.metrics["round"] ?? [])")

        let resumed = try Tool.run(arguments + ["--out", out])
        #expect(resumed.status == 0, "\(resumed.error)")
        #expect(resumed.error.contains("resuming '\(Self.runName)' in \(out) after round \(done)"), "\(resumed.error)")
        #expect(roundLines(resumed.output).count == 5 - done, "\(resumed.output)")
        try Self.expectCompleteAndIdentical(out, to: reference)

        let again = try Tool.run(arguments + ["--out", out])
        #expect(again.status == 0 && roundLines(again.output).isEmpty, "\(again.output)")
        #expect(again.error.contains("already complete with this configuration; skipping"), "\(again.error)")
        let changed = try Tool.run(arguments + ["--out", out, "--lr", "0.1"])
        expectOneLineError(changed, mentioning: ["different configuration", "--restart"])
        let restarted = try Tool.run(arguments + ["--out", out, "--lr", "0.1", "--restart"])
        #expect(restarted.status == 0 && roundLines(restarted.output).count == 5, "\(restarted.error)")
    }

    @Test("While a campaign runs, its file opens in the HDF5 C API, h5dump, h5py and inspect, with every finished round")
    func readableWhileRunning() throws {
        let directory = try TemporaryDirectory()
        let campaign = try directory.write("c.toml", Self.fedavgCampaign(rounds: 400))
        let out = directory.path("busy.h5")
        let launched = try Tool.launch(["campaign", campaign, "--out", out, "--plain"])
        let seen = launched.readError(until: "round 3/400")
        defer {
            kill(launched.process.processIdentifier, SIGKILL)
            launched.process.waitUntilExit()
        }
        try #require(seen.contains("round 3/400"), "\(seen)")
        let column = "/runs/\(Self.runName)/metrics/round"
        // HDF5 locks a run file for the milliseconds a round is written; a reader that opens it then fails and, as
        // docs/hdf5-layout.md tells users, opens it again. Each reader below tries for up to 2 s (40 × 50 ms).
        let attempts = 40

        // The C API through the campaign file's external link, as any HDF5 program would.
        var rounds = -1
        for _ in 0..<attempts {
            rounds = Self.rowCount(ofDataset: column, inFile: out) ?? -1
            if rounds >= 0 { break }
            usleep(50_000)
        }
        #expect(rounds >= 3 && rounds < 400, "\(rounds) rounds (-1: H5Fopen or H5Dopen2 failed for 2 s)")

        var dump = try Tool.run(["-H", out], executable: URL(fileURLWithPath: "/usr/bin/h5dump"))
        for _ in 1..<attempts where dump.status != 0 {
            usleep(50_000)
            dump = try Tool.run(["-H", out], executable: URL(fileURLWithPath: "/usr/bin/h5dump"))
        }
        #expect(dump.status == 0, "\(dump.error)")
        #expect(dump.output.contains("EXTERNAL_LINK \"\(Self.runName)\"") && dump.output.contains("DATASET \"round\""), "\(dump.output)")

        let inspect = try Tool.run(["inspect", out])
        #expect(inspect.status == 0, "\(inspect.error)")
        let row = inspect.output.split(separator: "\n").first { $0.hasPrefix(Self.runName) } ?? ""
        #expect(row.contains("running: now, process \(launched.process.processIdentifier)"), "\(inspect.output)")

        let python = """
            import h5py, sys, time
            for attempt in range(\(attempts)):
                try:
                    with h5py.File(sys.argv[1], 'r') as f:
                        print(f[sys.argv[2]].shape[0])
                    break
                except (OSError, KeyError):
                    if attempt == \(attempts - 1):
                        raise
                    time.sleep(0.05)
            """
        if (try? Tool.run(["-c", "import h5py"], executable: URL(fileURLWithPath: "/usr/bin/python3")).status) == 0 {
            let read = try Tool.run(["-c", python, out, column], executable: URL(fileURLWithPath: "/usr/bin/python3"))
            #expect(read.status == 0, "\(read.error)")
            #expect((Int(read.output.trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0) >= rounds, "\(read.output)")
        }
    }

    /// The number of rows of a one-dimensional dataset, read with nothing but the HDF5 C API (H5Dopen2 follows the
    /// external link into the run's file like h5py does); nil when the file or the dataset does not open.
    static func rowCount(ofDataset path: String, inFile file: String) -> Int? {
        let fileID = H5Fopen(file, chdf5_H5F_ACC_RDONLY(), chdf5_H5P_DEFAULT())
        guard fileID >= 0 else { return nil }
        defer { H5Fclose(fileID) }
        let dataset = H5Dopen2(fileID, path, chdf5_H5P_DEFAULT())
        guard dataset >= 0 else { return nil }
        defer { H5Dclose(dataset) }
        let space = H5Dget_space(dataset)
        defer { H5Sclose(space) }
        var extent: hsize_t = 0
        guard H5Sget_simple_extent_dims(space, &extent, nil) == 1 else { return nil }
        return Int(extent)
    }

    @Test("A full disk (file-size limit) ends with one line naming the file; earlier rounds stay readable and a re-run resumes")
    func fullDisk() throws {
        let directory = try TemporaryDirectory()
        let campaign = try directory.write("c.toml", Self.fedavgCampaign(rounds: 6))
        let out = directory.path("full.h5")
        // About half of what the run writes (its file ends near 1.3 MB): the limit hits mid-run.
        let result = try Tool.run(["campaign", campaign, "--out", out, "--plain"], fileSizeLimitKiB: 700)
        #expect(result.status == 1, "\(result.error)")
        let last = result.errorLines.last ?? ""
        // The write that failed is the run's own file, next to the campaign file.
        #expect(last.hasPrefix("Error: cannot write the results file '\(ResultsFile.runFilePath(of: out, run: Self.runName))'"), "\(last)")
        #expect(last.contains("File too large"), "\(last)")
        #expect(result.errorLines.filter { $0.hasPrefix("Error:") }.count == 1)
        #expect(!result.error.contains("crashed"), "\(result.error)")

        let partial = try Self.contents(of: out)
        let rounds = partial.metrics["round"] ?? []
        #expect(rounds.count >= 1 && rounds.count < 6, "rounds \(rounds)")
        #expect(partial.metrics["accuracy"]?.count == rounds.count)
        let inspect = try Tool.run(["inspect", out, "--run", Self.runName])
        #expect(inspect.status == 0, "\(inspect.error)")

        let resumed = try Tool.run(["campaign", campaign, "--out", out, "--plain"])
        #expect(resumed.status == 0, "\(resumed.error)")
        #expect(resumed.error.contains("resuming after round"), "\(resumed.error)")
        #expect(try Self.contents(of: out).metrics["round"] == (1...6).map(Double.init))
    }

    /// An in-process fedavg run on `devices` devices, all sampled each round, with 100 training images each.
    static func fedavgConfiguration(rounds: Int, devices: Int, learningRate: Double) -> RunConfiguration {
        var configuration = RunConfiguration(strategy: "fedavg")
        configuration.rounds = rounds
        configuration.devices = devices
        configuration.perRound = devices
        configuration.trainSubset = 100 * devices
        configuration.testSubset = 100
        configuration.learningRate = learningRate
        return configuration
    }

    @Test("A learning rate that makes every update NaN fails the run at round 1 with the advice; nothing is aggregated")
    func nonFiniteUpdates() throws {
        let configuration = Self.fedavgConfiguration(rounds: 2, devices: 4, learningRate: 1e30)
        let simulation = try Simulation(configuration: configuration, catalog: BuiltinStrategies.catalog())
        let before = simulation.global.exported()
        #expect(throws: SimulationError.self) { _ = try simulation.runRound() }
        do {
            _ = try simulation.runRound()
        } catch {
            let message = "\(error)"
            #expect(message.contains("round 1"), "\(message)")
            #expect(message.contains("4 of 4") && message.contains("NaN or infinite"), "\(message)")
            #expect(message.contains("lower run.lr"), "\(message)")
        }
        // The failed round changed nothing: the global model and the round count are those before it.
        #expect(simulation.completedRounds == 0)
        #expect(simulation.global.exported() == before)
    }

    @Test("Diverged devices are dropped before aggregation and counted; the others' updates are aggregated")
    func someUpdatesNonFinite() throws {
        // Measured: at this rate 7 of the 8 devices of round 1 (seed 1) diverge, one does not.
        let configuration = Self.fedavgConfiguration(rounds: 1, devices: 8, learningRate: 1e5)
        let simulation = try Simulation(configuration: configuration, catalog: BuiltinStrategies.catalog())
        let before = simulation.global.exported()
        let metrics = try simulation.runRound()
        #expect(metrics.droppedNonFinite >= 1 && metrics.droppedNonFinite < 8, "dropped \(metrics.droppedNonFinite)")
        #expect(metrics.participants == 8 - metrics.droppedNonFinite)
        #expect(simulation.global.exported().allSatisfy { $0.values.allSatisfy(\.isFinite) })
        #expect(simulation.global.exported() != before)
    }

    @Test("Default milestones never fall on round 0: a 1-round run trains at the configured rate")
    func defaultMilestones() throws {
        #expect(RunConfiguration.defaultMilestones(rounds: 1) == [])
        #expect(RunConfiguration.defaultMilestones(rounds: 10) == [6, 8])
        #expect(RunConfiguration.defaultMilestones(rounds: 1000) == [600, 800])
        var configuration = RunConfiguration(strategy: "fedavg")
        configuration.learningRateMilestones = [0]
        #expect(throws: ConfigurationError.self) { try configuration.validate() }
        let directory = try TemporaryDirectory()
        let out = directory.path("one.h5")
        let result = try Tool.run(["run", "--strategy", "fedavg", "--rounds", "1", "--devices", "4", "--per-round", "1",
                                   "--train-subset", "200", "--test-subset", "100", "--lr", "0.1", "--out", out])
        try #require(result.status == 0, "\(result.error)")
        let record = try ResultsFile(path: out, access: .readOnly).openRun(try ResultsFile(path: out, access: .readOnly).runNames()[0])
        #expect(try record.metrics()["learning_rate"] == [0.1])
    }
}
