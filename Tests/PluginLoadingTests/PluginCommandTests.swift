import Foundation
import Storage
import Testing

/// The plugin as a user meets it: through the `cocofl` binary of this build. Serialized: each run profiles the
/// model on oneDNN's threads, and two at once on a small machine take longer than one after the other.
@Suite("cocofl with --plugin", .serialized, .timeLimit(.minutes(10)))
struct PluginCommandTests {
    /// A short run on real Fashion-MNIST: 1,000 training and 200 test images over 10 devices, 3 per round.
    private static func runArguments(plugin: String, out: String, name: String, rounds: Int, extra: [String] = []) -> [String] {
        ["run", "--plugin", plugin, "--strategy", "cocofl-max-window", "--rounds", "\(rounds)", "--train-subset", "1000",
         "--test-subset", "200", "--devices", "10", "--per-round", "3", "--model", "resnet8", "--out", out, "--name", name]
            + extra
    }

    @Test("cocofl strategies lists the plugin strategy with its library, with --plugin before or after the subcommand")
    func listsThePlugin() throws {
        let cocofl = try PluginFixtures.cocofl()
        let plugin = try PluginFixtures.maxWindowPluginPath()
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
    func runsThePlugin() throws {
        let cocofl = try PluginFixtures.cocofl()
        let plugin = try PluginFixtures.maxWindowPluginPath()
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
    func failingPluginRun() throws {
        let cocofl = try PluginFixtures.cocofl()
        let plugin = try PluginFixtures.maxWindowPluginPath()
        try withTemporaryDirectory { directory in
            let out = directory.appendingPathComponent("failing.h5").path
            let arguments = Self.runArguments(plugin: plugin, out: out, name: "failing", rounds: 3, extra: ["--option", "fail_at_round=2"])
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
