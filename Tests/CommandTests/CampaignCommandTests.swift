import Foundation
import NN
import Platform
import Strategies
import Storage
import Testing
import TestSupport

/// `cocofl campaign` as a user runs it: killed mid-run, resumed, skipped when complete, refused on a changed
/// configuration; the results compared with an uninterrupted in-process run.
@Suite("cocofl campaign", .heavy, .serialized)
struct CampaignCommandTests {
    /// Metric columns that must not depend on where the run was interrupted (`seconds` is wall time).
    static let deterministicMetrics = ["accuracy", "loss", "upload_bytes", "participants", "skipped", "training_loss",
                                       "device_time_ratio", "learning_rate", "group_gap", "accuracy_strong", "accuracy_weak"]

    @Test("kill -9 mid-run keeps every completed round; re-running resumes and matches an uninterrupted run")
    func killAndResume() throws {
        let directory = try TemporaryDirectory()
        let campaignPath = try directory.write("small.toml", smallCampaign(strategies: ["cocofl"], rounds: 6))
        let out = directory.path("small.h5")

        // Start the campaign and kill it hard once round 3 is reported (its metrics are flushed before the report).
        let launched = try Tool.launch(["campaign", campaignPath, "--out", out, "--plain"])
        var seen = ""
        let deadline = Date().addingTimeInterval(600)
        while !seen.contains("round 3/6"), Date() < deadline {
            let chunk = launched.errorPipe.fileHandleForReading.availableData
            if chunk.isEmpty { break }
            seen += String(decoding: chunk, as: UTF8.self)
        }
        try #require(seen.contains("round 3/6"), "the campaign never reported round 3: \(seen)")
        kill(launched.process.processIdentifier, SIGKILL)
        launched.process.waitUntilExit()
        #expect(launched.process.terminationReason == .uncaughtSignal)

        let runName = try #require(try Campaign.load(path: campaignPath).runs.first?.name)
        do {
            let results = try ResultsFile(path: out, access: .readOnly)
            let record = try results.openRun(runName)
            #expect(try record.summary().status == .running)
            let rounds = try record.metrics()["round"] ?? []
            #expect(rounds.count >= 3)
            #expect(rounds == (1...rounds.count).map(Double.init), "rounds \(rounds)")
            #expect(try record.metrics()["accuracy"]?.count == rounds.count)
            #expect(try record.checkpointRounds().allSatisfy { $0 % 2 == 0 && $0 <= rounds.count })
        }

        let resumed = try Tool.run(["campaign", campaignPath, "--out", out, "--plain"])
        #expect(resumed.status == 0, "\(resumed.error)")
        #expect(resumed.error.contains("resuming after round"), "\(resumed.error)")
        #expect(resumed.output.contains("cocofl") && resumed.output.contains("complete"), "\(resumed.output)")

        // The reading handle must be closed before the tool runs again: HDF5 locks files open for reading.
        try compareWithUninterruptedRun(out: out, runName: runName, campaignPath: campaignPath)

        // Complete runs are skipped; a changed configuration is refused unless --restart.
        let again = try Tool.run(["campaign", campaignPath, "--out", out, "--plain"])
        #expect(again.status == 0)
        #expect(again.error.contains("already complete, skipped"), "\(again.error)")
        try directory.write("small.toml", smallCampaign(strategies: ["cocofl"], rounds: 2))
        let changed = try Tool.run(["campaign", campaignPath, "--out", out, "--plain"])
        expectOneLineError(changed, mentioning: [runName, "different configuration", "--restart"])
        let restarted = try Tool.run(["campaign", campaignPath, "--out", out, "--plain", "--restart"])
        #expect(restarted.status == 0, "\(restarted.error)")
        #expect(try ResultsFile(path: out, access: .readOnly).openRun(runName).metrics()["round"] == [1, 2])
    }

    /// Runs the campaign's run uninterrupted in this process, with the profile the campaign stored, and compares
    /// every deterministic metric and the final checkpoint with the resumed run in `out`.
    private func compareWithUninterruptedRun(out: String, runName: String, campaignPath: String) throws {
        let results = try ResultsFile(path: out, access: .readOnly)
        let record = try results.openRun(runName)
        #expect(try record.summary().status == .complete)
        let stored = try record.metrics()
        #expect(stored["round"] == (1...6).map(Double.init))
        #expect(try record.checkpointRounds() == [4, 6])

        // The same run uninterrupted, in this process, with the profile the campaign stored.
        let configuration = try #require(try Campaign.load(path: campaignPath).runs.first?.configuration)
        let profile = try #require(try record.storedProfile())
        let simulation = try Simulation(configuration: configuration, catalog: BuiltinStrategies.catalog(), profile: profile)
        var history: [RoundMetrics] = []
        try simulation.run { history.append($0) }
        let reference: [String: [Double]] = [
            "accuracy": history.map { $0.evaluation!.accuracy }, "loss": history.map { $0.evaluation!.loss },
            "upload_bytes": history.map { Double($0.uploadBytes) }, "participants": history.map { Double($0.participants) },
            "skipped": history.map { Double($0.skippedCount) }, "training_loss": history.map(\.trainingLoss),
            "device_time_ratio": history.map(\.meanDeviceTimeRatio), "learning_rate": history.map(\.learningRate),
            "group_gap": history.map { $0.evaluation!.groupGap },
            "accuracy_strong": history.map { $0.evaluation!.perGroupAccuracy["strong"]! },
            "accuracy_weak": history.map { $0.evaluation!.perGroupAccuracy["weak"]! },
        ]
        for name in Self.deterministicMetrics {
            #expect(stored[name] == reference[name], "\(name): resumed \(stored[name] ?? []) vs uninterrupted \(reference[name] ?? [])")
        }
        let checkpoint = try record.checkpoint(round: 6)
        #expect(checkpoint.parameters == simulation.global.exported())
    }

    @Test("The campaign file's layout in h5dump -H matches docs/hdf5-layout.md")
    func h5dumpLayout() throws {
        let directory = try TemporaryDirectory()
        // cocofl: strategies that never read the profile (fedavg) do not measure one, and the layout includes it.
        let campaignPath = try directory.write("layout.toml", smallCampaign(strategies: ["cocofl"], rounds: 2))
        let out = directory.path("layout.h5")
        let result = try Tool.run(["campaign", campaignPath, "--out", out, "--plain"])
        try #require(result.status == 0, "\(result.error)")
        let dump = Process()
        dump.executableURL = URL(fileURLWithPath: "/usr/bin/h5dump")
        dump.arguments = ["-H", out]
        let pipe = Pipe()
        dump.standardOutput = pipe
        try dump.run()
        let header = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        dump.waitUntilExit()
        let runName = try #require(try Campaign.load(path: campaignPath).runs.first?.name)
        // Every object the layout page documents for a campaign file, by its h5dump header line.
        // The run lives in its own file, which h5dump follows through the campaign file's external link.
        for line in ["ATTRIBUTE \"format_version\"", "GROUP \"runs\"", "EXTERNAL_LINK \"\(runName)\"",
                     "TARGETFILE \"layout.runs/\(runName).h5\"", "GROUP \"/runs/\(runName)\"", "ATTRIBUTE \"configuration\"",
                     "ATTRIBUTE \"status\"", "ATTRIBUTE \"tool_version\"", "GROUP \"metrics\"", "DATASET \"accuracy\"",
                     "DATASET \"round\"", "DATASET \"upload_bytes\"", "GROUP \"checkpoints\"", "GROUP \"round_2\"",
                     "ATTRIBUTE \"sampling_generator_state\"", "DATASET \"conv1.weight\"", "GROUP \"devices\"",
                     "DATASET \"profile\"", "GROUP \"profiles\"", "GROUP \"resnet8\""] {
            #expect(header.contains(line), "h5dump -H lacks \(line)")
        }
        let layoutDoc = try String(contentsOfFile: URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("../../docs/hdf5-layout.md").standardized.path, encoding: .utf8)
        for name in ["sampling_generator_state", "limits_generator_state", "### `profile`", "format_version", "EXTERNAL_LINK", "## Run files"] {
            #expect(layoutDoc.contains(name), "docs/hdf5-layout.md does not document \(name)")
        }
    }
}
