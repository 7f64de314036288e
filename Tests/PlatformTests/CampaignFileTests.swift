import Foundation
import Platform
import Testing

/// A campaign file's lines, joined so that `lines[i]` is line i + 1 of the text.
private func campaignText(_ lines: [String]) -> String { lines.joined(separator: "\n") }

/// The path the inline campaigns pretend to live at; relative paths resolve against its directory.
private let campaignPath = "/srv/experiments/campaigns/test.toml"

/// One malformed campaign and what its error must say.
struct CampaignErrorCase: CustomTestStringConvertible, Sendable {
    let label: String
    let lines: [String]
    /// The line the error must point at; nil: the description must be `FILE: message`.
    let line: Int?
    /// The key path the error must name, if any.
    let key: String?
    /// Text the description must contain.
    let fragments: [String]

    var testDescription: String { label }
}

@Suite("Campaign files: TOML grid → resolved runs")
struct CampaignFileTests {
    @Test("2 strategies × 2 alphas × 2 seeds give 8 runs with unique names, strategies varying fastest")
    func gridExpansion() throws {
        let campaign = try Campaign.parse(text: campaignText([
            "description = \"grid\"",
            "[grid]",
            "strategies = [\"fedavg\", \"cocofl\"]",
            "alphas = [0.1, 1.0]",
            "seeds = [1, 2]",
            "[run]",
            "rounds = 20",
        ]), path: campaignPath)
        #expect(campaign.description == "grid")
        #expect(campaign.runs.count == 8)
        #expect(Set(campaign.runs.map(\.name)).count == 8)
        #expect(campaign.runs.map(\.name) == [
            "fedavg-fashion-mnist-resnet8-a0.1-s1", "cocofl-fashion-mnist-resnet8-a0.1-s1",
            "fedavg-fashion-mnist-resnet8-a0.1-s2", "cocofl-fashion-mnist-resnet8-a0.1-s2",
            "fedavg-fashion-mnist-resnet8-a1.0-s1", "cocofl-fashion-mnist-resnet8-a1.0-s1",
            "fedavg-fashion-mnist-resnet8-a1.0-s2", "cocofl-fashion-mnist-resnet8-a1.0-s2",
        ])
        let last = campaign.runs[7].configuration
        #expect(last.strategy == "cocofl")
        #expect(last.partition == .dirichlet(alpha: 1.0, shardSizes: .equal))
        #expect(last.seed == 2)
        #expect(last.rounds == 20)
        #expect(last.learningRateMilestones == [12, 16])
    }

    @Test("a file with only strategies gets the RunConfiguration defaults and the reference mix")
    func defaults() throws {
        let campaign = try Campaign.parse(text: campaignText(["[grid]", "strategies = \"fedavg\""]), path: campaignPath)
        #expect(campaign.description == "")
        #expect(campaign.plugins == [])
        #expect(campaign.runs.count == 1)
        let run = try #require(campaign.runs.first)
        #expect(run.name == "fedavg-fashion-mnist-resnet8-a0.1-s1")
        #expect(run.configuration.checkpointInterval == 10)
        // The default milestones, 60 % and 80 % of 1000 rounds, are exactly RunConfiguration's [600, 800].
        #expect(run.configuration == RunConfiguration(strategy: "fedavg"))
        #expect(run.configuration.mix == .reference)
    }

    @Test("every [run] key lands in its RunConfiguration field")
    func explicitRunSettings() throws {
        let campaign = try Campaign.parse(text: campaignText([
            "[grid]",
            "strategies = [\"heterofl\"]",
            "datasets = [\"cifar10\"]",
            "models = [\"resnet18\"]",
            "alphas = [0.5]",
            "seeds = [7]",
            "mixes = [\"homogeneous\"]",
            "[run]",
            "rounds = 40",
            "devices = 20",
            "per_round = 5",
            "partition = \"resource-correlated\"",
            "local_epochs = 2",
            "batch = 64",
            "lr = 1",
            "lr_milestones = [24, 32]",
            "weight_decay = 5e-4",
            "momentum = 0.9",
            "eval_every = 5",
            "checkpoint_every = 4",
            "bn_eval = \"test-batch\"",
            "train_subset = 2000",
            "test_subset = 1000",
            "profile_repeats = 5",
        ]), path: campaignPath)
        let run = try #require(campaign.runs.first)
        #expect(campaign.runs.count == 1)
        #expect(run.name == "heterofl-cifar10-resnet18-a0.5-s7-homogeneous")
        #expect(run.configuration.checkpointInterval == 4)
        var expected = RunConfiguration(strategy: "heterofl")
        expected.dataset = "cifar10"
        expected.model = "resnet18"
        expected.partitionName = "resource-correlated"
        expected.alpha = 0.5
        expected.checkpointInterval = 4
        expected.mix = .homogeneous
        expected.seed = 7
        expected.rounds = 40
        expected.devices = 20
        expected.perRound = 5
        expected.localEpochs = 2
        expected.batchSize = 64
        expected.learningRate = 1.0
        expected.learningRateMilestones = [24, 32]
        expected.weightDecay = 5e-4
        expected.momentum = 0.9
        expected.evaluationInterval = 5
        expected.batchNormEvaluation = .testBatch
        expected.trainSubset = 2000
        expected.testSubset = 1000
        expected.profileRepeats = 5
        #expect(run.configuration == expected)
    }

    @Test("partition names map to schemes; partitions without α leave it out of the run name",
          arguments: [("dirichlet", PartitionScheme.dirichlet(alpha: 0.3, shardSizes: .equal), "-a0.3"),
                      ("dirichlet-natural", .dirichlet(alpha: 0.3, shardSizes: .natural), "-a0.3"),
                      ("resource-correlated", .resourceCorrelated(alpha: 0.3), "-a0.3"),
                      ("iid", .iid, ""), ("natural", .natural, "")])
    func partitions(name: String, scheme: PartitionScheme, alphaPart: String) throws {
        let campaign = try Campaign.parse(text: campaignText([
            "[grid]", "strategies = [\"fedavg\"]", "alphas = [0.3]", "[run]", "partition = \"\(name)\"",
        ]), path: campaignPath)
        #expect(campaign.runs.map(\.configuration.partition) == [scheme])
        #expect(campaign.runs.map(\.name) == ["fedavg-fashion-mnist-resnet8\(alphaPart)-s1"])
    }

    @Test("[strategy.ID] options go to that strategy only, as strings")
    func strategyOptions() throws {
        let campaign = try Campaign.parse(text: campaignText([
            "[grid]",
            "strategies = [\"fedavg\", \"heterofl\", \"cocofl\"]",
            "[strategy.heterofl]",
            "ratios = \"1,0.5,0.25\"",
            "[strategy.cocofl]",
            "weighting = \"samples\"",
            "budget = 3",
            "scale = 0.5",
            "verbose = true",
        ]), path: campaignPath)
        let options = Dictionary(uniqueKeysWithValues: campaign.runs.map {
            ($0.configuration.strategy, $0.configuration.strategyOptions)
        })
        #expect(options["fedavg"] == [:])
        #expect(options["heterofl"] == ["ratios": "1,0.5,0.25"])
        #expect(options["cocofl"] == ["weighting": "samples", "budget": "3", "scale": "0.5", "verbose": "true"])
    }

    @Test("plugin and data paths resolve against the campaign file's directory")
    func relativePaths() throws {
        let campaign = try Campaign.parse(text: campaignText([
            "plugins = [\"../Examples/X/.build/release/libX.so\", \"/opt/plugins/libY.so\", \"libZ.so\"]",
            "[grid]",
            "strategies = [\"fedavg\"]",
            "datasets = [\"cifar10\", \"hdf5\", \"fashion-mnist\"]",
            "[data_dirs]",
            "cifar10 = \"../../data/cifar10\"",
            "hdf5 = \"/data/shards.h5\"",
        ]), path: campaignPath)
        #expect(campaign.path == campaignPath)
        #expect(campaign.plugins == [
            "/srv/experiments/Examples/X/.build/release/libX.so", "/opt/plugins/libY.so",
            "/srv/experiments/campaigns/libZ.so",
        ])
        let directories = campaign.runs.map(\.configuration.dataDirectory)
        #expect(directories == ["/srv/data/cifar10", "/data/shards.h5", nil])
    }

    @Test("a relative campaign path resolves against the current directory")
    func relativeCampaignPath() throws {
        let campaign = try Campaign.parse(text: campaignText([
            "plugins = [\"libX.so\"]", "[grid]", "strategies = [\"fedavg\"]",
        ]), path: "campaigns/test.toml")
        let expected = URL(fileURLWithPath: FileManager.default.currentDirectoryPath)
            .appendingPathComponent("campaigns/libX.so").standardizedFileURL.path
        #expect(campaign.plugins == [expected])
        #expect(campaign.plugins[0].hasPrefix("/"))
    }

    @Test("a custom mix: share and count groups, fixed and uniform limits in both spellings")
    func customMix() throws {
        let campaign = try Campaign.parse(text: campaignText([
            "[grid]",
            "strategies = [\"cocofl\"]",
            "mixes = [\"small\", \"reference\"]",
            "[run]",
            "devices = 20",
            "per_round = 4",
            "[mixes.small]",
            "[[mixes.small.groups]]",
            "name = \"strong\"",
            "count = 5",
            "[[mixes.small.groups]]",
            "name = \"weak\"",
            "share = 1",
            "time = 0.33",
            "memory = 0.5",
            "upload = [0.5, 1.0]",
            "[mixes.inline]",
            "groups = [{ name = \"a\", share = 0.5, upload = { lower = 0.25, upper = 0.75 } }, { name = \"b\", share = 0.5 }]",
        ]), path: campaignPath)
        #expect(campaign.runs.map(\.name) == [
            "cocofl-fashion-mnist-resnet8-a0.1-s1-small", "cocofl-fashion-mnist-resnet8-a0.1-s1",
        ])
        let small = campaign.runs[0].configuration.mix
        #expect(small == DeviceMix(groups: [
            DeviceGroup(name: "strong", size: .count(5)),
            DeviceGroup(name: "weak", size: .share(1), time: .constant(0.33), memory: .constant(0.5),
                        upload: .uniform(lower: 0.5, upper: 1.0)),
        ]))
        #expect(try small.deviceCounts(deviceCount: 20) == [5, 15])
        #expect(campaign.runs[1].configuration.mix == .reference)
    }

    @Test("an unused custom mix is still checked, and inline groups parse like [[…]] entries")
    func inlineMixChecked() throws {
        let error = #expect(throws: CampaignError.self) {
            _ = try Campaign.parse(text: campaignText([
                "[grid]",
                "strategies = [\"cocofl\"]",
                "[mixes.inline]",
                "groups = [{ name = \"a\", share = 0.5 },",
                "          { name = \"b\", share = 0.5, upload = { lower = 0.75, upper = 0.25 } }]",
            ]), path: campaignPath)
        }
        #expect(error?.line == 5)
        #expect(error?.key == "mixes.inline.groups[1].upload")
        #expect(error?.description.contains("lower ≤ upper") == true)
    }

    @Test("The shipped campaigns parse: the main job and the plugin comparison")
    func shippedCampaigns() throws {
        let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("campaigns")
        let main = try Campaign.load(path: directory.appendingPathComponent("fashion-mnist.toml").path)
        #expect(main.runs.map(\.configuration.strategy) == ["fedavg", "device-dropping", "heterofl", "cocofl"])
        #expect(main.runs.allSatisfy { $0.configuration.partition == .dirichlet(alpha: 0.1, shardSizes: .equal) && $0.configuration.mix == .reference })
        let plugin = try Campaign.load(path: directory.appendingPathComponent("max-window.toml").path)
        // Compared with symlinks resolved: after a release build `.build/release` is a link to the triple's folder.
        #expect(plugin.plugins.map { URL(fileURLWithPath: $0).resolvingSymlinksInPath().path } == [directory.deletingLastPathComponent()
            .appendingPathComponent("Examples/MaxWindowPlugin/.build/release/libMaxWindowPlugin.so").resolvingSymlinksInPath().path])
        #expect(plugin.runs.first?.configuration.strategy == "cocofl-max-window")
    }

    @Test("campaigns/example-full.toml parses into 16 runs that use every section")
    func exampleFile() throws {
        let file = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("campaigns/example-full.toml").path
        let campaign = try Campaign.load(path: file)
        #expect(campaign.runs.count == 16)
        #expect(Set(campaign.runs.map(\.name)).count == 16)
        #expect(!campaign.description.isEmpty)
        #expect(campaign.runs.contains { $0.name == "cocofl-fashion-mnist-resnet8-a0.1-s1" })
        let twoTier = try #require(campaign.runs.first { $0.name == "heterofl-fashion-mnist-resnet8-a0.1-s2-two-tier" })
        #expect(twoTier.configuration.strategyOptions == ["ratios": "1,0.5,0.25"])
        let dropping = try #require(campaign.runs.first { $0.configuration.strategy == "device-dropping" })
        #expect(dropping.configuration.strategyOptions == ["sampling": "unconstrained-only"])
        #expect(twoTier.configuration.mix.groups.map(\.name) == ["strong", "weak"])
        #expect(twoTier.configuration.mix.groups[1].upload == .uniform(lower: 0.3, upper: 0.8))
        #expect(twoTier.configuration.rounds == 40)
        #expect(twoTier.configuration.learningRateMilestones == [24, 32])
        #expect(twoTier.configuration.batchNormEvaluation == .reestimated)
        #expect(twoTier.configuration.dataDirectory == "/usr/share/datasets/fashion-mnist")
        #expect(twoTier.configuration.checkpointInterval == 10)
    }

    @Test("the short example of docs/campaigns.md gives the 24 runs the page promises")
    func documentedExample() throws {
        let page = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("docs/campaigns.md")
        let text = try String(contentsOf: page, encoding: .utf8)
        let start = try #require(text.range(of: "```toml\n"))
        let end = try #require(text.range(of: "```", range: start.upperBound..<text.endIndex))
        let campaign = try Campaign.parse(text: String(text[start.upperBound..<end.lowerBound]), path: page.path)
        #expect(campaign.runs.count == 24)
        #expect(campaign.runs.allSatisfy { $0.configuration.learningRateMilestones == [24, 32] })
        #expect(campaign.runs.allSatisfy { $0.configuration.devices == 100 && $0.configuration.perRound == 10 })
        #expect(campaign.runs.filter { !$0.configuration.strategyOptions.isEmpty }.map(\.configuration.strategy)
                    == [String](repeating: "heterofl", count: 6))
    }

    @Test("a campaign file that is not UTF-8 is named in the error")
    func notUTF8() throws {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("campaign-\(UUID()).toml")
        try Data([0x5B, 0x67, 0xFF, 0xFE, 0x5D]).write(to: file)
        defer { try? FileManager.default.removeItem(at: file) }
        let error = #expect(throws: CampaignError.self) { _ = try Campaign.load(path: file.path) }
        #expect(error?.description == "\(file.path): the campaign file is not UTF-8 text; save it as UTF-8")
    }

    @Test("a missing campaign file is named in the error")
    func missingFile() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("no-such-campaign-\(UUID()).toml").path
        let error = #expect(throws: CampaignError.self) { _ = try Campaign.load(path: path) }
        #expect(error?.description.hasPrefix("\(path): ") == true)
        #expect(error?.description.contains("does not exist") == true)
        #expect(error?.line == nil)
    }

    @Test("a directory given as the campaign file is named in the error")
    func directoryGiven() throws {
        let path = FileManager.default.temporaryDirectory.path
        let error = #expect(throws: CampaignError.self) { _ = try Campaign.load(path: path) }
        #expect(error?.description.hasPrefix("\(path): ") == true)
        #expect(error?.description.contains("directory") == true)
    }

    @Test("load reads a real file and resolves paths against its directory")
    func loadFromDisk() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("campaign-\(UUID())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let file = directory.appendingPathComponent("c.toml")
        try campaignText(["plugins = [\"lib/libX.so\"]", "[grid]", "strategies = [\"fedavg\"]"])
            .write(to: file, atomically: true, encoding: .utf8)
        let campaign = try Campaign.load(path: file.path)
        #expect(campaign.plugins == [directory.appendingPathComponent("lib/libX.so").standardizedFileURL.path])
        #expect(campaign.runs.count == 1)
    }

    static let errorCases: [CampaignErrorCase] = [
        CampaignErrorCase(label: "malformed TOML gives the parser's line and column",
                          lines: ["[grid]", "strategies = [\"fedavg\"]", "[run]", "rounds = = 4"],
                          line: 4, key: nil, fragments: ["invalid TOML at column 10", "expected a value"]),
        CampaignErrorCase(label: "an unclosed string",
                          lines: ["description = \"open", "[grid]"], line: 1, key: nil, fragments: ["invalid TOML"]),
        CampaignErrorCase(label: "unknown top-level key",
                          lines: ["[grid]", "strategies = [\"fedavg\"]", "[rnu]", "rounds = 3"],
                          line: 3, key: "rnu",
                          fragments: ["unknown key 'rnu'", "did you mean 'run'?", "at the top level",
                                      "description, plugins, grid"]),
        CampaignErrorCase(label: "unknown [grid] key",
                          lines: ["[grid]", "strategies = [\"fedavg\"]", "seed = [1]"],
                          line: 3, key: "grid.seed", fragments: ["unknown key 'grid.seed'", "did you mean 'seeds'?"]),
        CampaignErrorCase(label: "unknown [run] key with a suggestion",
                          lines: ["[grid]", "strategies = [\"fedavg\"]", "", "[run]", "rounds = 4", "", "roundz = 40"],
                          line: 7, key: "run.roundz",
                          fragments: ["unknown key 'run.roundz'", "did you mean 'rounds'?", "in [run]", "per_round"]),
        CampaignErrorCase(label: "unknown key far from anything known gets no suggestion",
                          lines: ["[grid]", "strategies = [\"fedavg\"]", "[run]", "optimizer = \"adam\""],
                          line: 4, key: "run.optimizer", fragments: ["unknown key 'run.optimizer'; the keys"]),
        CampaignErrorCase(label: "unknown key in [mixes.NAME]",
                          lines: ["[grid]", "strategies = [\"fedavg\"]", "[mixes.small]", "group = []"],
                          line: 4, key: "mixes.small.group", fragments: ["did you mean 'groups'?"]),
        CampaignErrorCase(label: "unknown key in a group entry",
                          lines: ["[grid]", "strategies = [\"fedavg\"]", "[[mixes.small.groups]]", "name = \"a\"",
                                  "share = 1", "[[mixes.small.groups]]", "name = \"b\"", "shre = 1"],
                          line: 8, key: "mixes.small.groups[1].shre",
                          fragments: ["unknown key 'mixes.small.groups[1].shre'", "did you mean 'share'?",
                                      "in [[mixes.small.groups]] entries are: name, share, count, time, memory, upload"]),
        CampaignErrorCase(label: "a quoted number where an integer belongs",
                          lines: ["[grid]", "strategies = [\"fedavg\"]", "[run]", "devices = 10", "rounds = \"40\""],
                          line: 5, key: "run.rounds",
                          fragments: ["'run.rounds' must be an integer, but it is a string (\"40\")", "remove the quotes"]),
        CampaignErrorCase(label: "a fractional seed",
                          lines: ["[grid]", "strategies = [\"fedavg\"]", "seeds = [1, 1.5]"],
                          line: 3, key: "grid.seeds[1]",
                          fragments: ["must be an integer, but it is a floating-point number (1.5)"]),
        CampaignErrorCase(label: "an element of a multi-line list is found on its own line",
                          lines: ["[grid]", "strategies = [", "  \"fedavg\",", "  3,", "]"],
                          line: 4, key: "grid.strategies[1]", fragments: ["must be a string, but it is an integer (3)"]),
        CampaignErrorCase(label: "a table where a number belongs",
                          lines: ["[grid]", "strategies = [\"fedavg\"]", "alphas = [{ value = 1 }]"],
                          line: 3, key: "grid.alphas[0]", fragments: ["must be a number, but it is a table"]),
        CampaignErrorCase(label: "a string where a table belongs",
                          lines: ["run = \"fast\"", "[grid]", "strategies = [\"fedavg\"]"],
                          line: 1, key: "run", fragments: ["'run' must be a table, but it is a string"]),
        CampaignErrorCase(label: "an empty grid list",
                          lines: ["[grid]", "strategies = [\"fedavg\"]", "seeds = []"],
                          line: 3, key: "grid.seeds", fragments: ["'grid.seeds' is empty"]),
        CampaignErrorCase(label: "missing strategies point at the [grid] header",
                          lines: ["description = \"x\"", "", "[grid]", "seeds = [1]"],
                          line: 3, key: "grid.strategies", fragments: ["[grid] has no 'strategies'"]),
        CampaignErrorCase(label: "no [grid] at all has no line",
                          lines: ["description = \"x\""],
                          line: nil, key: "grid", fragments: ["has no [grid] table"]),
        CampaignErrorCase(label: "an unknown mix name",
                          lines: ["[grid]", "strategies = [\"fedavg\"]", "mixes = [\"reference\", \"refrence2\"]"],
                          line: 3, key: "grid.mixes[1]",
                          fragments: ["unknown device mix 'refrence2'", "homogeneous, reference", "[mixes.refrence2]"]),
        CampaignErrorCase(label: "an unknown partition",
                          lines: ["[grid]", "strategies = [\"fedavg\"]", "[run]", "partition = \"diriclet\""],
                          line: 4, key: "run.partition",
                          fragments: ["run.partition is 'diriclet', which is not a partition", "did you mean 'dirichlet'?", "resource-correlated"]),
        CampaignErrorCase(label: "an unknown bn_eval",
                          lines: ["[grid]", "strategies = [\"fedavg\"]", "[run]", "bn_eval = \"running\""],
                          line: 4, key: "run.bn_eval", fragments: ["run.bn_eval is 'running', which is not a BatchNorm evaluation",
                                                                   "aggregated, test-batch, reestimated"]),
        CampaignErrorCase(label: "zero rounds",
                          lines: ["[grid]", "strategies = [\"fedavg\"]", "[run]", "rounds = 0"],
                          line: 4, key: "run.rounds", fragments: ["run.rounds is 0 but must be at least 1"]),
        CampaignErrorCase(label: "negative devices",
                          lines: ["[grid]", "strategies = [\"fedavg\"]", "[run]", "devices = -5"],
                          line: 4, key: "run.devices", fragments: ["run.devices is -5 but must be at least 1"]),
        CampaignErrorCase(label: "a zero lr milestone",
                          lines: ["[grid]", "strategies = [\"fedavg\"]", "[run]", "lr_milestones = [10, 0]"],
                          line: 4, key: "run.lr_milestones", fragments: ["is [10, 0]", "must be at least 1"]),
        CampaignErrorCase(label: "more devices per round than devices",
                          lines: ["[grid]", "strategies = [\"fedavg\"]", "[run]", "devices = 8", "per_round = 10"],
                          line: 5, key: "run.per_round", fragments: ["run.per_round is 10 but must be between 1 and run.devices (8)"]),
        CampaignErrorCase(label: "a zero group count",
                          lines: ["[grid]", "strategies = [\"fedavg\"]", "[[mixes.m.groups]]", "name = \"a\"", "count = 0"],
                          line: 5, key: "mixes.m.groups[0].count", fragments: ["is 0 but must be at least 1"]),
        CampaignErrorCase(label: "a group with both share and count",
                          lines: ["[grid]", "strategies = [\"fedavg\"]", "[[mixes.m.groups]]", "name = \"a\"",
                                  "share = 1", "count = 3"],
                          line: 6, key: "mixes.m.groups[0].count", fragments: ["both share and count"]),
        CampaignErrorCase(label: "a group with neither share nor count",
                          lines: ["[grid]", "strategies = [\"fedavg\"]", "[[mixes.m.groups]]", "name = \"a\""],
                          line: 3, key: "mixes.m.groups[0]", fragments: ["needs 'share'"]),
        CampaignErrorCase(label: "a resource limit with lower above upper",
                          lines: ["[grid]", "strategies = [\"fedavg\"]", "[[mixes.m.groups]]", "name = \"a\"",
                                  "share = 1", "upload = [1.0, 0.5]"],
                          line: 6, key: "mixes.m.groups[0].upload", fragments: ["swap them"]),
        CampaignErrorCase(label: "a mix whose counts do not fit the devices",
                          lines: ["[grid]", "strategies = [\"fedavg\"]", "mixes = [\"m\"]", "[run]", "devices = 10",
                                  "[mixes.m]", "groups = [{ name = \"a\", count = 12 }]"],
                          line: 6, key: "mixes.m", fragments: ["mixes.m cannot be used with run.devices = 10", "12 devices"]),
        CampaignErrorCase(label: "a custom mix that shadows a built-in one",
                          lines: ["[grid]", "strategies = [\"fedavg\"]", "[mixes.reference]", "groups = []"],
                          line: 3, key: "mixes.reference", fragments: ["would replace the built-in 'reference' mix"]),
        CampaignErrorCase(label: "an unknown model names the grid.models line",
                          lines: ["[grid]", "strategies = [\"fedavg\"]", "models = [\"resnet8\",", "  \"resnet81\"]"],
                          line: 4, key: "grid.models[1]",
                          fragments: ["grid.models[1] is 'resnet81', which is not a model", "did you mean 'resnet8'?", "resnet8, resnet18"]),
        CampaignErrorCase(label: "a repeated seed",
                          lines: ["[grid]", "strategies = [\"fedavg\"]", "seeds = [1, 2, 1]"],
                          line: 3, key: "grid.seeds[2]", fragments: ["lists 1 twice"]),
        CampaignErrorCase(label: "a non-positive alpha",
                          lines: ["[grid]", "strategies = [\"fedavg\"]", "alphas = [0.1, -1]"],
                          line: 3, key: "grid.alphas[1]", fragments: ["must be positive"]),
        CampaignErrorCase(label: "several alphas with a partition that has none",
                          lines: ["[grid]", "strategies = [\"fedavg\"]", "alphas = [0.1, 1]", "[run]", "partition = \"iid\""],
                          line: 3, key: "grid.alphas", fragments: ["partition 'iid' has no α"]),
        CampaignErrorCase(label: "a strategy name with a slash",
                          lines: ["[grid]", "strategies = [\"fed/avg\"]"],
                          line: 2, key: "grid.strategies[0]", fragments: ["cannot be part of a run name"]),
        CampaignErrorCase(label: "two combinations whose names read alike",
                          lines: ["[grid]", "strategies = [\"a-b\", \"a\"]", "datasets = [\"c\", \"b-c\"]"],
                          line: 1, key: "grid",
                          fragments: ["runs 1 and 4 of the grid are both named 'a-b-c-resnet8-a0.1-s1'"]),
        CampaignErrorCase(label: "options for a strategy that is not in the grid",
                          lines: ["[grid]", "strategies = [\"heterofl\"]", "[strategy.heterfl]", "ratios = \"1,0.5\""],
                          line: 3, key: "strategy.heterfl",
                          fragments: ["not in grid.strategies", "did you mean 'heterofl'?"]),
        CampaignErrorCase(label: "a strategy option that is an array",
                          lines: ["[grid]", "strategies = [\"heterofl\"]", "[strategy.heterofl]", "ratios = [1, 0.5]"],
                          line: 4, key: "strategy.heterofl.ratios", fragments: ["must be a string, number or boolean"]),
        CampaignErrorCase(label: "a data directory for a dataset that is not in the grid",
                          lines: ["[grid]", "strategies = [\"fedavg\"]", "[data_dirs]", "cifar10 = \"/data\""],
                          line: 4, key: "data_dirs.cifar10", fragments: ["not in grid.datasets"]),
        CampaignErrorCase(label: "a plugin path that is not a string",
                          lines: ["plugins = [\"a.so\", 3]", "[grid]", "strategies = [\"fedavg\"]"],
                          line: 1, key: "plugins[1]", fragments: ["must be a string, but it is an integer (3)"]),
    ]

    @Test("errors name the key and its line and say how to fix it", arguments: errorCases)
    func errors(_ errorCase: CampaignErrorCase) throws {
        let error = #expect(throws: CampaignError.self) {
            _ = try Campaign.parse(text: campaignText(errorCase.lines), path: campaignPath)
        }
        guard let error else { return }
        let prefix = errorCase.line.map { "\(campaignPath):\($0): " } ?? "\(campaignPath): "
        #expect(error.description.hasPrefix(prefix), "\(error.description)")
        #expect(error.line == errorCase.line)
        #expect(error.key == errorCase.key, "\(error.description)")
        for fragment in errorCase.fragments {
            #expect(error.description.contains(fragment), "\(error.description)")
        }
        #expect(!error.description.contains("\n"))
    }

    @Test("a single value stands for a one-element grid list")
    func scalarGridValues() throws {
        let campaign = try Campaign.parse(text: campaignText([
            "[grid]", "strategies = \"cocofl\"", "alphas = 0.5", "seeds = 3", "mixes = \"homogeneous\"",
        ]), path: campaignPath)
        #expect(campaign.runs.map(\.name) == ["cocofl-fashion-mnist-resnet8-a0.5-s3-homogeneous"])
    }

    @Test("dotted keys, inline tables and comments are located like plain keys")
    func locatorHandlesTOMLForms() throws {
        let error = #expect(throws: CampaignError.self) {
            _ = try Campaign.parse(text: campaignText([
                "# a comment with [brackets] and key = value",
                "description = \"\"\"spans",
                "[run]",
                "rounds = 3 lines\"\"\"",
                "grid.strategies = [\"fedavg\"]  # dotted key",
                "",
                "run = { rounds = 10, devices = 10, per_round = 0 }",
            ]), path: campaignPath)
        }
        // Lines 3 and 4 are inside the multi-line string; the inline table is on line 7.
        #expect(error?.line == 7)
        #expect(error?.key == "run.per_round")
    }
}
