import CoCoFLCore
import Foundation
import Platform
import Storage
import Testing
import TestSupport

/// The plugin as a user meets it: through the `cocofl` binary of this build. Runs that need a profile get the stored
/// one (`--profile`). Serialized: each run computes on oneDNN's threads, and two at once on a small machine take
/// longer than one after the other.
@Suite("cocofl with --plugin", .heavy(after: PluginFixtures.awaitMaxWindowPlugin), .serialized, .timeLimit(.minutes(10)))
struct PluginCommandTests {
    /// A short run on real Fashion-MNIST: 1,000 training and 100 test images over 10 devices, 3 per round.
    private static func runArguments(plugin: String, out: String, name: String, rounds: Int, extra: [String] = []) -> [String] {
        ["run", "--plugin", plugin, "--strategy", "cocofl-max-window", "--rounds", "\(rounds)", "--train-subset", "1000",
         "--test-subset", "100", "--devices", "10", "--per-round", "3", "--model", "resnet8", "--out", out, "--name", name,
         "--profile", PluginFixtures.storedProfile] + extra
    }

    @Test("cocofl strategies lists the plugin strategy with its library, with --plugin before or after the subcommand")
    func listsThePlugin() async throws {
        let cocofl = try PluginFixtures.cocofl()
        let plugin = try await PluginFixtures.maxWindowPluginPath()
        for arguments in [["strategies", "--plugin", plugin], ["--plugin", plugin, "strategies"]] {
            let result = try PluginFixtures.run(cocofl, arguments)
            #expect(result.status == 0, "\(arguments): \(result.standardError)")
            let line = result.standardOutput.split(separator: "\n").first { $0.hasPrefix("cocofl-max-window ") }
            #expect(line?.hasSuffix("[plugin \(plugin)]") == true, "\(result.standardOutput)")
            // The built-in strategies are still there.
            #expect(result.standardOutput.split(separator: "\n").contains { $0.hasPrefix("cocofl ") })
        }
    }

    @Test("cocofl run --plugin … --strategy cocofl-max-window records a complete run")
    func runsThePlugin() async throws {
        let cocofl = try PluginFixtures.cocofl()
        let plugin = try await PluginFixtures.maxWindowPluginPath()
        try withTemporaryDirectory { directory in
            let out = directory.appendingPathComponent("plugin.h5").path
            let result = try PluginFixtures.run(cocofl, Self.runArguments(plugin: plugin, out: out, name: "max-window", rounds: 2))
            #expect(result.status == 0, "\(result.standardError)")
            #expect(result.standardOutput.split(separator: "\n").count == 2, "one line per round: \(result.standardOutput)")
            let record = try ResultsFile(path: out, access: .readOnly).openRun("max-window")
            let summary = try record.summary()
            #expect(summary.status == .complete, "\(summary.statusMessage)")
            #expect(try record.lastMetricsRound() == 2)
            #expect(try record.metadata().specification.strategy == "cocofl-max-window")
        }
    }

    @Test("a plugin strategy that throws during a run: exit status 1, run marked failed with the message in the file")
    func failingPluginRun() async throws {
        let cocofl = try PluginFixtures.cocofl()
        let plugin = try await PluginFixtures.maxWindowPluginPath()
        try withTemporaryDirectory { directory in
            let out = directory.appendingPathComponent("failing.h5").path
            let arguments = Self.runArguments(plugin: plugin, out: out, name: "failing", rounds: 3, extra: ["--strategy-option", "fail_at_round=2"])
            let result = try PluginFixtures.run(cocofl, arguments)
            let message = "cocofl-max-window failed on purpose at round 2 (option fail_at_round, a test hook)"
            #expect(result.status != 0)
            #expect(result.standardError.contains("Error: \(message)"), "\(result.standardError)")
            let record = try ResultsFile(path: out, access: .readOnly).openRun("failing")
            let summary = try record.summary()
            #expect(summary.status == .failed)
            #expect(summary.statusMessage == message)
            // Round 1 completed and stays recorded.
            #expect(try record.lastMetricsRound() == 1)
        }
    }

    @Test("a campaign file's plugins: a throwing plugin run is recorded failed and the campaign goes on; fixed, --restart completes it")
    func campaignWithThePlugin() async throws {
        let cocofl = try PluginFixtures.cocofl()
        let plugin = try await PluginFixtures.maxWindowPluginPath()
        try withTemporaryDirectory { directory in
            let campaignFile = directory.appendingPathComponent("plugin.toml")
            let out = directory.appendingPathComponent("plugin.h5").path
            func writeCampaign(failAtRound: Int?) throws {
                var text = """
                    plugins = ["\(plugin)"]

                    [grid]
                    strategies = ["cocofl-max-window", "fedavg"]

                    [run]
                    rounds = 2
                    devices = 10
                    per_round = 3
                    train_subset = 1000
                    test_subset = 100
                    profile_repeats = 1

                    """
                if let failAtRound { text += "[strategy.cocofl-max-window]\nfail_at_round = \(failAtRound)\n" }
                try text.write(to: campaignFile, atomically: true, encoding: .utf8)
            }
            try writeCampaign(failAtRound: 2)
            let names = try Campaign.load(path: campaignFile.path).runs.map(\.name)
            #expect(names == ["cocofl-max-window-fashion-mnist-resnet8-a0.1-s1", "fedavg-fashion-mnist-resnet8-a0.1-s1"])

            let failing = try PluginFixtures.run(cocofl, ["campaign", campaignFile.path, "--out", out, "--plain", "--profile", PluginFixtures.storedProfile])
            #expect(failing.status != 0, "a campaign with a failed run exits non-zero")
            do {
                // Closed before the tool runs again: HDF5 locks files open for reading.
                let results = try ResultsFile(path: out, access: .readOnly)
                let failed = try results.openRun(names[0]).summary()
                #expect(failed.status == .failed)
                #expect(failed.statusMessage == "cocofl-max-window failed on purpose at round 2 (option fail_at_round, a test hook)")
                // The next run of the campaign ran to the end.
                #expect(try results.openRun(names[1]).summary().status == .complete)
            }

            try writeCampaign(failAtRound: nil)
            let fixed = try PluginFixtures.run(cocofl, ["campaign", campaignFile.path, "--out", out, "--plain", "--restart",
                                                       "--profile", PluginFixtures.storedProfile])
            #expect(fixed.status == 0, "\(fixed.standardError)")
            let results = try ResultsFile(path: out, access: .readOnly)
            for name in names {
                #expect(try results.openRun(name).summary().status == .complete, "\(name)")
                #expect(try results.openRun(name).lastMetricsRound() == 2, "\(name)")
            }
            // The comparison table at the end has the plugin's run next to the built-in one.
            let rows = fixed.standardOutput.split(separator: "\n")
            for name in names {
                #expect(rows.contains { $0.hasPrefix(name + " ") && $0.hasSuffix("complete") }, "\(fixed.standardOutput)")
            }
        }
    }

    @Test("the plugin's fedprox runs in a campaign next to fedavg: µ = 0 equals fedavg bit for bit, µ > 0 does not")
    func fedProxNextToFedAvg() async throws {
        let cocofl = try PluginFixtures.cocofl()
        let plugin = try await PluginFixtures.maxWindowPluginPath()
        try withTemporaryDirectory { directory in
            func campaign(mu: Double) throws -> String {
                let file = directory.appendingPathComponent("fedprox-\(mu).toml")
                try """
                    plugins = ["\(plugin)"]

                    [grid]
                    strategies = ["fedavg", "fedprox"]
                    alphas = [0.5]

                    [run]
                    rounds = 3
                    devices = 6
                    per_round = 3
                    train_subset = 600
                    test_subset = 100
                    lr = 0.05
                    checkpoint_every = 3

                    [strategy.fedprox]
                    mu = \(mu)
                    """.write(to: file, atomically: true, encoding: .utf8)
                return file.path
            }
            func contents(_ out: String, _ run: String) throws -> (metrics: [String: [Double]], parameters: [NamedArray]) {
                let record = try ResultsFile(path: out, access: .readOnly).openRun(run)
                #expect(try record.summary().status == .complete, "\(run)")
                return (try record.metrics().filter { $0.key != "seconds" }, try record.latestCheckpoint()?.parameters ?? [])
            }
            let (fedavg, fedprox) = ("fedavg-fashion-mnist-resnet8-a0.5-s1", "fedprox-fashion-mnist-resnet8-a0.5-s1")
            let zero = directory.appendingPathComponent("zero.h5").path
            let result = try PluginFixtures.run(cocofl, ["campaign", try campaign(mu: 0), "--out", zero, "--plain"])
            #expect(result.status == 0, "\(result.standardError)")
            let (reference, proximal) = (try contents(zero, fedavg), try contents(zero, fedprox))
            #expect(!reference.parameters.isEmpty)
            #expect(proximal.metrics == reference.metrics, "µ = 0: every metric as fedavg's")
            #expect(proximal.parameters == reference.parameters, "µ = 0: the final checkpoint as fedavg's")

            let pulled = directory.appendingPathComponent("pulled.h5").path
            let strong = try PluginFixtures.run(cocofl, ["campaign", try campaign(mu: 1), "--out", pulled, "--plain"])
            #expect(strong.status == 0, "\(strong.standardError)")
            let withTerm = try contents(pulled, fedprox)
            #expect(withTerm.parameters != reference.parameters)
            #expect(withTerm.metrics["accuracy"]?.allSatisfy(\.isFinite) == true)
        }
    }

    @Test("--workers 2: a plugin that segfaults takes down only its own worker; its run is failed with SIGSEGV named")
    func crashingPluginWorker() async throws {
        let cocofl = try PluginFixtures.cocofl()
        let plugin = try await PluginFixtures.maxWindowPluginPath()
        try withTemporaryDirectory { directory in
            let campaignFile = directory.appendingPathComponent("crash.toml")
            let out = directory.appendingPathComponent("crash.h5").path
            try """
                plugins = ["\(plugin)"]

                [grid]
                strategies = ["cocofl-max-window", "fedavg"]

                [run]
                rounds = 3
                devices = 10
                per_round = 3
                train_subset = 1000
                test_subset = 100
                profile_repeats = 1

                [strategy.cocofl-max-window]
                crash_at_round = 2
                """.write(to: campaignFile, atomically: true, encoding: .utf8)
            let names = try Campaign.load(path: campaignFile.path).runs.map(\.name)
            let result = try PluginFixtures.run(cocofl, ["campaign", campaignFile.path, "--out", out, "--plain", "--workers", "2",
                                                        "--profile", PluginFixtures.storedProfile])
            #expect(result.status == 1, "\(result.standardError)")
            let results = try ResultsFile(path: out, access: .readOnly)
            let crashed = try results.openRun(names[0]).summary()
            #expect(crashed.status == .failed)
            #expect(crashed.statusMessage.contains("was killed by signal 11 (SIGSEGV)"), "\(crashed.statusMessage)")
            #expect(crashed.statusMessage.contains("Program crashed"), "the crash line of its standard error: \(crashed.statusMessage)")
            // Round 1 was recorded before the crash; the other run went on to the end.
            #expect(try results.openRun(names[0]).lastMetricsRound() == 1)
            #expect(try results.openRun(names[1]).summary().status == .complete)
            #expect(try results.openRun(names[1]).lastMetricsRound() == 3)
            #expect(result.standardError.contains("\(names[0]): failed: its worker process"), "\(result.standardError)")
        }
    }

    @Test("a missing plugin library stops cocofl with one line naming the path and the fix")
    func missingLibrary() throws {
        let cocofl = try PluginFixtures.cocofl()
        try withTemporaryDirectory { directory in
            let path = directory.appendingPathComponent("libMissing.so").path
            let result = try PluginFixtures.run(cocofl, ["--plugin", path, "strategies"])
            #expect(result.status != 0)
            #expect(result.standardOutput.isEmpty)
            #expect(result.standardError == "Error: plugin library '\(path)' does not exist; build the plugin with "
                    + "`swift build -c release` in its package and pass the .so from its .build/release directory\n")
        }
    }
}
