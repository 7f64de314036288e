import CoCoFLCore
import Foundation
import Platform
import Strategies
import Testing
import TestSupport

/// A hand-made profile of a 4-unit model. Full training uploads 1000 bytes; ratios are fractions of full training.
/// Under limits 0.6 the maximal feasible windows are [0,1] (300 B), [1,2] (400 B) and [2,3] (500 B); under
/// time/memory 0.55 and upload 0.45, [2,3] no longer fits and [1,2] and [3,3] tie at 400 B with [0,1] at 300 B.
private let handMadeProfile: ModelProfile = {
    // (first, last, time ratio, memory ratio, upload bytes)
    let table: [(Int, Int, Double, Double, Int)] = [
        (0, 0, 0.3, 0.3, 100), (0, 1, 0.5, 0.5, 300), (0, 2, 0.8, 0.8, 700), (0, 3, 1.0, 1.0, 1000),
        (1, 1, 0.2, 0.2, 150), (1, 2, 0.5, 0.5, 400), (1, 3, 0.7, 0.7, 900),
        (2, 2, 0.2, 0.2, 200), (2, 3, 0.4, 0.4, 500),
        (3, 3, 0.1, 0.1, 400),
    ]
    let windows = table.map { first, last, time, memory, upload in
        WindowCost(first: first, last: last, timeSeconds: time * 0.02, timeRatio: time, memoryBytes: Int(memory * 1e6),
                   memoryRatio: memory, peakRSSGrowthBytes: 0, uploadBytes: upload, uploadRatio: Double(upload) / 1000)
    }
    return ModelProfile(model: "hand-made", inputShape: [1, 28, 28], classes: 10, batch: 32, repeats: 1,
                        unitNames: ["stem", "block1", "block2", "head"], windows: windows)
}()

private let environment = StrategyEnvironment(modelName: "hand-made", unitCount: 4, profile: handMadeProfile)

/// A `LocalTrainer` that trains nothing and records what a strategy asked it to train.
final class RecordingTrainer: LocalTrainer {
    let global = ParameterSet()
    private(set) var windows: [TrainedWindow] = []
    private(set) var subModels: [(ratio: Double, selection: SubModelSelection)] = []

    func trainWindow(_ window: TrainedWindow, lossTerm: (any LocalLossTerm)?, generator: inout SeededGenerator) throws -> LocalTraining {
        windows.append(window)
        return LocalTraining(update: try PartialUpdate(deviceID: 0, sampleCount: 0, parameters: []), timeRatio: 1, memoryRatio: 1, meanLoss: 0)
    }

    func trainSubModel(ratio: Double, selection: SubModelSelection, lossTerm: (any LocalLossTerm)?,
                       generator: inout SeededGenerator) throws -> LocalTraining {
        subModels.append((ratio, selection))
        return LocalTraining(update: try PartialUpdate(deviceID: 0, sampleCount: 0, parameters: []), timeRatio: ratio * ratio,
                             memoryRatio: ratio, meanLoss: 0)
    }
}

/// The outcome of `strategy` for one device (a skip reason, or nil when it trained) and the window it trained.
private func trainedWindow(_ strategy: Strategy, device: DeviceRound, generator: inout SeededGenerator) throws
    -> (skipped: String?, window: TrainedWindow?)
{
    let trainer = RecordingTrainer()
    if case .skipped(let reason) = try strategy.train(device, with: trainer, generator: &generator) { return (reason, nil) }
    return (nil, trainer.windows.first)
}

/// The windows `strategy` trains for seeds 1…40 under `limits`.
private func plannedWindows(_ strategy: Strategy, limits: DeviceLimits, round: Int = 1) throws -> [TrainedWindow?] {
    try (1...40).map { seed in
        var generator = SeededGenerator(seed: UInt64(seed))
        let device = DeviceRound(deviceID: 7, groupName: "medium", limits: limits, round: round, sampleCount: 600)
        return try trainedWindow(strategy, device: device, generator: &generator).window
    }
}

@Suite("Loading the example plugin", .heavy(after: PluginFixtures.awaitMaxWindowPlugin))
struct ExamplePluginTests {
    @Test("the example plugin loads, registers cocofl-max-window and fedprox and is listed with its library as source")
    func loads() async throws {
        let path = try await PluginFixtures.maxWindowPluginPath()
        let plugin = try PluginLoader.load(path: path)
        #expect(plugin.entries.map(\.id) == ["cocofl-max-window", "fedprox"])
        var sources = StrategySources(builtins: try BuiltinStrategies.catalog())
        let builtinCount = sources.catalog.count
        try sources.add(plugin)
        #expect(sources.catalog.count == builtinCount + 2)
        #expect(sources.source(of: "cocofl-max-window") == path)
        #expect(sources.source(of: "fedprox") == path)
        #expect(sources.source(of: "cocofl") == StrategySources.builtinSource)
    }

    @Test("the host instantiates the plugin strategy and plans the feasible maximal window with the most upload bytes")
    func plansTheLargestWindow() async throws {
        let entry = try PluginLoader.load(path: try await PluginFixtures.maxWindowPluginPath()).entries[0]
        let strategy = try entry.instantiate(options: [:], environment: environment)
        // One copy of the protocol types: the plugin's object is a Strategy to the host's runtime, too.
        #expect((strategy as AnyObject) as? Strategy != nil)

        // [0,1] 300 B, [1,2] 400 B, [2,3] 500 B are maximal and feasible: always [2,3].
        let roomy = try plannedWindows(strategy, limits: DeviceLimits(time: 0.6, memory: 0.6, upload: 0.6))
        #expect(Set(roomy) == [TrainedWindow(first: 2, last: 3)])

        // [1,2] and [3,3] tie at 400 B; [0,1] (300 B) is never chosen; the seed decides the tie reproducibly.
        let tight = DeviceLimits(time: 0.55, memory: 0.55, upload: 0.45)
        let tied = try plannedWindows(strategy, limits: tight)
        #expect(Set(tied) == [TrainedWindow(first: 1, last: 2), TrainedWindow(first: 3, last: 3)])
        #expect(try plannedWindows(strategy, limits: tight) == tied)
        // The built-in CoCoFL picks at random among all three maximal windows, [0,1] included.
        let cocofl = try CoCoFLStrategy.entry.instantiate(options: [:], environment: environment)
        #expect(try plannedWindows(cocofl, limits: tight).contains(TrainedWindow(first: 0, last: 1)))

        // Nothing fits 5 % of full training: the device sits the round out.
        var generator = SeededGenerator(seed: 1)
        let starved = DeviceRound(deviceID: 1, groupName: "weak", limits: DeviceLimits(time: 0.05, memory: 0.05, upload: 0.05),
                                  round: 1, sampleCount: 600)
        #expect(try trainedWindow(strategy, device: starved, generator: &generator).skipped == "no feasible configuration")
    }

    @Test("the plugin aggregates with the host's CoCoFL rule from the environment")
    func aggregatesWithTheHostRule() async throws {
        let strategy = try PluginLoader.load(path: try await PluginFixtures.maxWindowPluginPath()).entries[0]
            .instantiate(options: [:], environment: environment)
        let global = try ParameterSet([NamedArray(key: "w", shape: [2], values: [1, 1]),
                                       NamedArray(key: "b", shape: [1], values: [4])])
        let updates = [
            try PartialUpdate(deviceID: 0, sampleCount: 600, parameters: [NamedArray(key: "w", shape: [2], values: [3, 5])]),
            try PartialUpdate(deviceID: 1, sampleCount: 600, parameters: [NamedArray(key: "b", shape: [1], values: [8])]),
        ]
        let result = try strategy.aggregate(global: global, updates: updates, participantCount: 2)
        // w: |S| = 1 of N = 2 → ½·[3, 5] + ½·[1, 1] = [2, 3];  b: ½·8 + ½·4 = 6.
        #expect(result["w"]?.values == [2, 3])
        #expect(result["b"]?.values == [6])
    }

    @Test("options: fail_at_round throws a StrategyError the host can catch by type; unknown options are rejected")
    func options() async throws {
        let entry = try PluginLoader.load(path: try await PluginFixtures.maxWindowPluginPath()).entries[0]
        let failing = try entry.instantiate(options: ["fail_at_round": "3"], environment: environment)
        let limits = DeviceLimits(time: 1, memory: 1, upload: 1)
        var generator = SeededGenerator(seed: 1)
        _ = try trainedWindow(failing, device: DeviceRound(deviceID: 0, groupName: "strong", limits: limits, round: 2, sampleCount: 1),
                              generator: &generator)
        do {
            _ = try trainedWindow(failing, device: DeviceRound(deviceID: 0, groupName: "strong", limits: limits, round: 3, sampleCount: 1),
                                  generator: &generator)
            Issue.record("fail_at_round = 3 did not throw at round 3")
        } catch let error as StrategyError {
            #expect(error.description == "cocofl-max-window failed on purpose at round 3 (option fail_at_round, a test hook)")
        }
        #expect(throws: StrategyError.self) { try entry.instantiate(options: ["fail_at_round": "three"], environment: environment) }
        do {
            _ = try entry.instantiate(options: ["tie_break": "first"], environment: environment)
            Issue.record("an unknown option was accepted")
        } catch let error as StrategyError {
            #expect(error.description == "unknown option 'tie_break' for strategy 'cocofl-max-window'; it takes: crash_at_round, fail_at_round, weighting")
        }
    }
}

@Suite("Plugin loading failures")
struct PluginFailureTests {
    /// Loads `path`, expecting a `PluginError` of `kind` whose one-line message is exactly `message(path)`.
    private func expectFailure(_ kind: PluginError.Kind, loading path: String, message: (String) -> String,
                               sourceLocation: SourceLocation = #_sourceLocation) {
        do {
            let plugin = try PluginLoader.load(path: path)
            Issue.record("\(path) loaded with \(plugin.entries.count) strategies", sourceLocation: sourceLocation)
        } catch let error as PluginError {
            #expect(error.kind == kind, sourceLocation: sourceLocation)
            #expect(error.description == message(path), sourceLocation: sourceLocation)
            #expect(!error.description.contains("\n"), "one line", sourceLocation: sourceLocation)
        } catch {
            Issue.record("unexpected error \(error)", sourceLocation: sourceLocation)
        }
    }

    @Test("a missing file names the path and says how to build the plugin")
    func missingFile() throws {
        try withTemporaryDirectory { directory in
            expectFailure(.missingFile, loading: directory.appendingPathComponent("libNothing.so").path) { path in
                "plugin library '\(path)' does not exist; build the plugin with `swift build -c release` in its package "
                    + "and pass the .so from its .build/release directory"
            }
        }
    }

    @Test("a file dlopen rejects carries dlerror's text")
    func notALibrary() throws {
        try withTemporaryDirectory { directory in
            let path = directory.appendingPathComponent("libText.so").path
            try String(repeating: "not an ELF file\n", count: 16).write(toFile: path, atomically: true, encoding: .utf8)
            expectFailure(.cannotOpen, loading: path) { path in
                "cannot load plugin library '\(path)': \(path): invalid ELF header; rebuild the plugin with "
                    + "`swift build -c release` in its package against this platform's Core package"
            }
        }
    }

    @Test("a library without the entry point names the symbol")
    func missingEntryPoint() throws {
        try withTemporaryDirectory { directory in
            let path = try PluginFixtures.cLibrary("libNoEntry", source: "int cocofl_unrelated(void) { return 42; }\n", in: directory)
            expectFailure(.missingEntryPoint, loading: path) { path in
                "'\(path)' does not export the plugin entry point 'cocofl_plugin_entry'; define it with "
                    + "@_cdecl(\"cocofl_plugin_entry\") returning PluginDescriptor.make(register:) (docs/plugins.md)"
            }
        }
    }

    @Test("a plugin built against another API version is refused before anything else of it runs")
    func versionMismatch() throws {
        try withTemporaryDirectory { directory in
            // The register function would crash the test process: the host must not get that far.
            let source = """
                #include <stdlib.h>
                #include "cocofl_plugin.h"
                static void register_strategies(void *registrar) { abort(); }
                static const cocofl_plugin_descriptor descriptor = { COCOFL_PLUGIN_API_VERSION + 41, register_strategies, 0 };
                const cocofl_plugin_descriptor *cocofl_plugin_entry(void) { return &descriptor; }
                """
            let path = try PluginFixtures.cLibrary("libFutureVersion", source: source, in: directory)
            expectFailure(.versionMismatch, loading: path) { path in
                "plugin '\(path)' was built against plugin API version \(pluginAPIVersion + 41) but this cocofl has "
                    + "version \(pluginAPIVersion); rebuild the plugin against this platform's Core package"
            }
        }
    }

    @Test("a plugin with its own copy of the API (another PluginRegistrar) is refused before it registers")
    func separateAPICopy() throws {
        try withTemporaryDirectory { directory in
            let source = """
                #include <stdlib.h>
                #include "cocofl_plugin.h"
                static int private_registrar_type;
                static void register_strategies(void *registrar) { abort(); }
                static const cocofl_plugin_descriptor descriptor = { COCOFL_PLUGIN_API_VERSION, register_strategies, &private_registrar_type };
                const cocofl_plugin_descriptor *cocofl_plugin_entry(void) { return &descriptor; }
                """
            let path = try PluginFixtures.cLibrary("libOwnCopy", source: source, in: directory)
            expectFailure(.separateAPICopy, loading: path) { path in
                "plugin '\(path)' carries its own copy of CoCoFLCore, so its strategies would not be the host's "
                    + "types; depend on the CoCoFLCore product of the platform's Core package instead of "
                    + "copying its sources (docs/plugins.md)"
            }
        }
    }

    @Test("an entry point that returns no descriptor")
    func missingDescriptor() throws {
        try withTemporaryDirectory { directory in
            let source = """
                #include "cocofl_plugin.h"
                const cocofl_plugin_descriptor *cocofl_plugin_entry(void) { return 0; }
                """
            let path = try PluginFixtures.cLibrary("libNoDescriptor", source: source, in: directory)
            expectFailure(.missingDescriptor, loading: path) { path in
                "the entry point 'cocofl_plugin_entry' of '\(path)' returned no descriptor; return "
                    + "PluginDescriptor.make(register:) from it"
            }
        }
    }

    @Test("two libraries registering the same id: the error names the id and both libraries")
    func duplicateAcrossLibraries() async throws {
        let original = try await PluginFixtures.maxWindowPluginPath()
        try withTemporaryDirectory { directory in
            // A second file with the same strategy (a copy: dlopen loads it as another library).
            let copy = directory.appendingPathComponent("libMaxWindowCopy.so").path
            try FileManager.default.copyItem(atPath: original, toPath: copy)
            var sources = StrategySources(builtins: try BuiltinStrategies.catalog())
            do {
                try sources.loadPlugins([original, copy])
                Issue.record("the same id from two libraries was accepted")
            } catch let error as PluginError {
                #expect(error.kind == .duplicateStrategy)
                #expect(error.description == "strategy 'cocofl-max-window' of plugin '\(copy)' is already registered by "
                        + "'\(original)'; give the plugin's strategy another id or load only one of the libraries")
            }
            #expect(sources.source(of: "cocofl-max-window") == original)
        }
    }

    @Test("a plugin id that is a built-in strategy's id is refused; the same library named twice is loaded once")
    func duplicateWithBuiltin() async throws {
        let path = try await PluginFixtures.maxWindowPluginPath()
        let impostor = StrategyEntry(id: "cocofl-max-window", summary: "a built-in with the plugin's id") { _, environment in
            try CoCoFLStrategy.entry.make(StrategyOptions([:], strategyID: "cocofl"), environment)
        }
        var sources = StrategySources(builtins: try StrategyCatalog([impostor]))
        do {
            try sources.loadPlugins([path])
            Issue.record("a plugin replaced a built-in strategy")
        } catch let error as PluginError {
            #expect(error.description == "strategy 'cocofl-max-window' of plugin '\(path)' is a built-in strategy; give "
                    + "the plugin's strategy another id or load only one of the libraries")
        }
        var twice = StrategySources(builtins: try BuiltinStrategies.catalog())
        try twice.loadPlugins([path, path])
        #expect(twice.catalog.count == (try BuiltinStrategies.catalog()).count + 2)
    }
}
