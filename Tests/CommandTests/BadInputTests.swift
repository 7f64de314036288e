import Foundation
import Storage
import Testing
import TestSupport

/// Bad input to the tool gives one line naming the problem and a non-zero exit, and never damages files.
@Suite("Bad input", .heavy)
struct BadInputTests {
    /// A campaign text with one defect, and what its error line must mention.
    struct Case: CustomStringConvertible, Sendable {
        let description: String
        let campaign: String
        let mentions: [String]
    }

    static let campaignCases: [Case] = [
        Case(description: "malformed TOML", campaign: "[grid\nstrategies = [\"fedavg\"]\n", mentions: ["bad.toml:1"]),
        Case(description: "misspelled key", campaign: smallCampaign(extraRun: "roundz = 3"), mentions: ["roundz", "rounds"]),
        Case(description: "wrong type", campaign: smallCampaign().replacingOccurrences(of: "rounds = 6", with: "rounds = \"six\""),
             mentions: ["rounds", "integer"]),
        Case(description: "unknown strategy", campaign: smallCampaign(strategies: ["fedavgg"]), mentions: ["fedavgg", "fedavg"]),
        Case(description: "unknown model", campaign: smallCampaign().replacingOccurrences(of: "\"resnet8\"", with: "\"resnet9\""),
             mentions: ["resnet9", "resnet8"]),
        Case(description: "unknown dataset", campaign: smallCampaign().replacingOccurrences(of: "[\"fashion-mnist\"]", with: "[\"fashion-mnistt\"]"),
             mentions: ["fashion-mnistt"]),
        Case(description: "missing dataset directory", campaign: smallCampaign() + "\n[data_dirs]\nfashion-mnist = \"/nonexistent/fmnist\"\n",
             mentions: ["/nonexistent/fmnist"]),
    ]

    @Test("A bad campaign file is one error line and writes no results file", arguments: campaignCases)
    func badCampaign(_ badCase: Case) throws {
        let directory = try TemporaryDirectory()
        let path = try directory.write("bad.toml", badCase.campaign)
        let out = directory.path("out.h5")
        let result = try Tool.run(["campaign", path, "--out", out])
        expectOneLineError(result, mentioning: badCase.mentions)
        #expect(!FileManager.default.fileExists(atPath: out), "\(badCase): a results file was created")
    }

    @Test("A missing campaign file names it")
    func missingCampaign() throws {
        let directory = try TemporaryDirectory()
        let result = try Tool.run(["campaign", directory.path("nope.toml"), "--out", directory.path("out.h5")])
        expectOneLineError(result, mentioning: ["nope.toml"])
    }

    @Test("An output path under a regular file is refused")
    func unwritableOutput() throws {
        let directory = try TemporaryDirectory()
        let campaign = try directory.write("c.toml", smallCampaign(strategies: ["fedavg"], rounds: 1))
        try directory.write("plain-file", "not a directory")
        let result = try Tool.run(["campaign", campaign, "--out", directory.path("plain-file/out.h5")])
        expectOneLineError(result, mentioning: ["plain-file"])
    }

    @Test("An existing non-HDF5 file as output is refused and left untouched")
    func nonHDF5Output() throws {
        let directory = try TemporaryDirectory()
        let campaign = try directory.write("c.toml", smallCampaign(strategies: ["fedavg"], rounds: 1))
        let notes = try directory.write("notes.h5", "my precious notes\n")
        let result = try Tool.run(["campaign", campaign, "--out", notes])
        expectOneLineError(result, mentioning: ["notes.h5"])
        #expect(try String(contentsOfFile: notes, encoding: .utf8) == "my precious notes\n")
        let inspect = try Tool.run(["inspect", notes])
        expectOneLineError(inspect, mentioning: ["notes.h5"])
    }

    @Test("A truncated results file is refused by campaign and inspect and left as it was")
    func truncatedResults() throws {
        let directory = try TemporaryDirectory()
        let path = directory.path("cut.h5")
        do {
            let results = try ResultsFile(path: path, access: .createOrAppend(toolVersion: "test"))
            let record = try results.createRun("r", specification: RunSpecification(
                strategy: "fedavg", dataset: "fashion-mnist", model: "resnet8", seed: 1, configuration: "{}", toolVersion: "test"))
            for round in 1...50 { try record.appendMetrics(round: round, values: ["accuracy": Double(round) / 100]) }
        }
        let whole = try Data(contentsOf: URL(fileURLWithPath: path))
        let cut = whole.prefix(whole.count / 2)
        try cut.write(to: URL(fileURLWithPath: path))
        let campaign = try directory.write("c.toml", smallCampaign(strategies: ["fedavg"], rounds: 1))
        expectOneLineError(try Tool.run(["campaign", campaign, "--out", path]), mentioning: ["cut.h5"])
        expectOneLineError(try Tool.run(["inspect", path]), mentioning: ["cut.h5"])
        #expect(try Data(contentsOf: URL(fileURLWithPath: path)) == cut)
    }

    @Test("inspect on a missing file names it")
    func inspectMissing() throws {
        let directory = try TemporaryDirectory()
        expectOneLineError(try Tool.run(["inspect", directory.path("missing.h5")]), mentioning: ["missing.h5"])
    }

    @Test("cocofl run names the options of the configuration keys at fault, through the one key-to-option mapping",
          arguments: [
            (["--per-round", "200"], ["--per-round is 200 but must be between 1 and --devices (100)"]),
            (["--lr", "0"], ["--lr is 0.0 but must be positive"]),
            (["--bn-eval", "running"], ["--bn-eval is 'running', which is not a BatchNorm evaluation", "reestimated"]),
            (["--model", "resnet9"], ["--model is 'resnet9'", "did you mean 'resnet8'?"]),
            (["--mix", "tiered"], ["--mix is 'tiered'; use homogeneous or reference"]),
            (["--strategy-option", "ratios"], ["--strategy-option takes KEY=VALUE, got 'ratios'"]),
          ])
    func runOptions(_ extra: [String], _ fragments: [String]) throws {
        let result = try Tool.run(["run", "--strategy", "fedavg", "--rounds", "1"] + extra)
        expectOneLineError(result, mentioning: fragments)
        #expect(!result.error.contains("per_round") && !result.error.contains("bn_eval"), "\(result.error)")
    }

    @Test("--profile with a missing or non-profile file is one error line naming the file")
    func badProfileFile() throws {
        let directory = try TemporaryDirectory()
        let missing = directory.path("missing.json")
        expectOneLineError(try Tool.run(["run", "--strategy", "cocofl", "--rounds", "1", "--profile", missing]),
                           mentioning: ["--profile \(missing): cannot read it"])
        let notProfile = try directory.write("not.json", #"{"windows": 3}"#)
        let campaign = try directory.write("c.toml", smallCampaign())
        expectOneLineError(try Tool.run(["campaign", campaign, "--out", directory.path("c.h5"), "--profile", notProfile]),
                           mentioning: ["--profile \(notProfile): not a profile"])
        #expect(!FileManager.default.fileExists(atPath: directory.path("c.h5")), "nothing written")
    }
}
