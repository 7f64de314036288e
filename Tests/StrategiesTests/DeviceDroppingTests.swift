import CoCoFLCore
import NN
import Platform
import Strategies
import Testing
import TestSupport

/// Device dropping's sampling: among the devices that can train the full model (the reference), or among all
/// devices with the constrained ones skipped (`sampling = "all-devices"`).
@Suite("Device dropping samples as the reference does", .heavy)
struct DeviceDroppingTests {
    /// Forwards to a built-in strategy and records the devices `train` is asked about, round by round.
    final class RecordingStrategy: Strategy {
        let inner: Strategy
        var planned: [Int: [Int]] = [:]

        init(_ inner: Strategy) { self.inner = inner }

        func isEligible(_ device: DeviceRound) throws -> Bool { try inner.isEligible(device) }

        func train(_ device: DeviceRound, with trainer: any LocalTrainer, generator: inout SeededGenerator) throws -> LocalOutcome {
            planned[device.round, default: []].append(device.deviceID)
            return try inner.train(device, with: trainer, generator: &generator)
        }

        func aggregate(global: ParameterSet, updates: [PartialUpdate], participantCount: Int) throws -> ParameterSet {
            try inner.aggregate(global: global, updates: updates, participantCount: participantCount)
        }
    }

    /// A catalog whose only entry wraps `id` of the built-in catalog in a `RecordingStrategy` handed to `record`.
    final class Recorder: @unchecked Sendable {
        var strategy: RecordingStrategy?
    }

    static func catalog(wrapping id: String, into recorder: Recorder) throws -> StrategyCatalog {
        let builtin = try BuiltinStrategies.catalog().entry(id: id)
        return try StrategyCatalog([StrategyEntry(id: id, summary: builtin.summary) { options, environment in
            let strategy = RecordingStrategy(try builtin.make(options, environment))
            recorder.strategy = strategy
            return strategy
        }])
    }

    /// Six strong and four weak devices, or the reference mix (3 strong of 10); five devices per round.
    static func configuration(strategy: String, strongCount: Int?, sampling: String? = nil) -> RunConfiguration {
        var configuration = EndToEndTests.configuration(strategy)
        configuration.rounds = 3
        configuration.evaluationInterval = 3
        configuration.trainSubset = 500
        configuration.testSubset = 100
        if let strongCount {
            configuration.mix = DeviceMix(groups: [
                DeviceGroup(name: "strong", size: .count(strongCount)),
                DeviceGroup(name: "weak", size: .count(configuration.devices - strongCount), time: .constant(0.33),
                            memory: .constant(0.33), upload: .uniform(lower: 0.5, upper: 1.0)),
            ])
        }
        if let sampling { configuration.strategyOptions = ["sampling": sampling] }
        return configuration
    }

    static func run(_ configuration: RunConfiguration, wrapping id: String) throws -> (metrics: [RoundMetrics], planned: [Int: [Int]]) {
        let recorder = Recorder()
        let simulation = try Simulation(configuration: configuration, catalog: catalog(wrapping: id, into: recorder),
                                        data: try EndToEndTests.data(), profile: try EndToEndTests.profile())
        var metrics: [RoundMetrics] = []
        try simulation.run { metrics.append($0) }
        return (metrics, try #require(recorder.strategy).planned)
    }

    /// The devices the pre-existing sampler picks in each round of `configuration` (sampling among all devices).
    static func samplesAmongAllDevices(_ configuration: RunConfiguration) throws -> [[Int]] {
        let sampler = try DeviceSampler(perRound: configuration.perRound, deviceCount: configuration.devices)
        var generator = SeededGenerator(seed: configuration.seed).derived("sampling")
        return (1...configuration.rounds).map { _ in sampler.sample(using: &generator) }
    }

    @Test("With enough unconstrained devices exactly per_round train, all of them unconstrained")
    func enoughUnconstrained() throws {
        let configuration = Self.configuration(strategy: "device-dropping", strongCount: 6)
        let (metrics, planned) = try Self.run(configuration, wrapping: "device-dropping")
        #expect(metrics.allSatisfy { $0.participants == 5 && $0.skipped.isEmpty })
        for round in 1...3 {
            let devices = try #require(planned[round])
            #expect(devices.count == 5 && Set(devices).isSubset(of: 0..<6), "round \(round): \(devices)")
        }
        // Different rounds draw different subsets of the six strong devices.
        #expect(Set((1...3).map { planned[$0]! }).count > 1)
    }

    @Test("With fewer unconstrained devices than per_round all of them train and the round says so")
    func fewerUnconstrained() throws {
        // The reference mix on 10 devices: 3 strong (ids 0, 1, 2), 3 medium, 4 weak.
        let configuration = Self.configuration(strategy: "device-dropping", strongCount: nil)
        let (metrics, planned) = try Self.run(configuration, wrapping: "device-dropping")
        #expect(metrics.allSatisfy { $0.participants == 3 && $0.skipped == [Simulation.tooFewEligibleReason: 2] })
        #expect((1...3).allSatisfy { planned[$0] == [0, 1, 2] })
    }

    @Test("sampling = all-devices samples among all devices and skips the constrained ones, as before")
    func allDevices() throws {
        let configuration = Self.configuration(strategy: "device-dropping", strongCount: 6, sampling: "all-devices")
        let (metrics, planned) = try Self.run(configuration, wrapping: "device-dropping")
        let expected = try Self.samplesAmongAllDevices(configuration)
        for round in 1...3 {
            #expect(planned[round] == expected[round - 1])
            let strong = expected[round - 1].filter { $0 < 6 }.count
            #expect(metrics[round - 1].participants == strong)
            #expect(metrics[round - 1].skipped == (strong == 5 ? [:] : ["limits below full training": 5 - strong]))
        }
    }

    @Test("Strategies that admit every device sample exactly as before", arguments: ["fedavg", "cocofl"])
    func othersUnchanged(strategy: String) throws {
        let configuration = Self.configuration(strategy: strategy, strongCount: nil)
        let (_, planned) = try Self.run(configuration, wrapping: strategy)
        let expected = try Self.samplesAmongAllDevices(configuration)
        #expect((1...3).map { planned[$0] ?? [] } == expected)
    }

    @Test("Sampling from all devices as candidates is the plain sampler, draw for draw")
    func candidatesEqualPlainSampler() throws {
        for (perRound, deviceCount) in [(1, 1), (3, 10), (10, 100), (10, 10)] {
            let sampler = try DeviceSampler(perRound: perRound, deviceCount: deviceCount)
            var plain = SeededGenerator(seed: 42), candidates = SeededGenerator(seed: 42)
            for _ in 0..<20 {
                #expect(sampler.sample(using: &plain) == sampler.sample(from: Array(0..<deviceCount), using: &candidates))
            }
            #expect(plain.state == candidates.state)
        }
    }

    @Test("An unknown sampling value is an error naming the option and the choices")
    func badSampling() throws {
        let configuration = Self.configuration(strategy: "device-dropping", strongCount: 6, sampling: "strong")
        let error = try #require(throws: StrategyError.self) {
            _ = try Simulation(configuration: configuration, catalog: BuiltinStrategies.catalog(), data: try EndToEndTests.data(),
                               profile: try EndToEndTests.profile())
        }
        #expect(error.description.contains("'sampling'") && error.description.contains("unconstrained-only")
                && error.description.contains("all-devices"))
    }
}
