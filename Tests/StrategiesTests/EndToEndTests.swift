import CoCoFLCore
import Foundation
import NN
import Platform
import Strategies
import Testing
import TestSupport

/// Short federated runs of every built-in strategy on real Fashion-MNIST data.
@Suite("End-to-end runs", .heavy, .serialized)
struct EndToEndTests {
    /// 2,000 training images over 10 devices (5 per round), 500 test images, IID, 8 rounds.
    static func configuration(_ strategy: String) -> RunConfiguration {
        var configuration = RunConfiguration(strategy: strategy)
        configuration.model = "resnet8"
        configuration.devices = 10
        configuration.perRound = 5
        configuration.rounds = 8
        configuration.partitionName = "iid"
        configuration.learningRate = 0.05
        configuration.momentum = 0.9
        configuration.learningRateMilestones = []
        configuration.evaluationInterval = 4
        configuration.trainSubset = 2000
        configuration.testSubset = 500
        configuration.seed = 3
        configuration.batchNormEvaluation = .testBatch
        return configuration
    }

    /// Fashion-MNIST, decompressed once for every in-process run of this test target (each run takes its subsets).
    static let fashionMNIST = Result { try DatasetCatalog.load(name: "fashion-mnist", directory: nil) }
    static func data() throws -> DatasetSplit { try fashionMNIST.get() }

    /// One profile for all runs (its content only steers CoCoFL's choices).
    static let measuredProfile = Result {
        try Profiler(modelName: "resnet8", inputShape: [1, 28, 28], classes: 10, batch: 32, repeats: 1).run(needs: [.windows, .subModels])
    }
    /// Measured once per test process; a failure fails the tests that need it instead of crashing the process.
    static func profile() throws -> ModelProfile { try measuredProfile.get() }

    @Test("Accuracy rises clearly above chance", arguments: ["fedavg", "device-dropping", "cocofl", "heterofl", "fedrolex", "federated-dropout"])
    func learns(strategy: String) throws {
        var configuration = Self.configuration(strategy)
        configuration.evaluationInterval = configuration.rounds  // only the final accuracy is checked
        let simulation = try Simulation(configuration: configuration, catalog: BuiltinStrategies.catalog(), data: try Self.data(), profile: try Self.profile())
        var history: [RoundMetrics] = []
        try simulation.run { history.append($0) }
        let final = try #require(history.last?.evaluation)
        #expect(final.accuracy > 0.45, "\(strategy): final accuracy \(final.accuracy)")
        #expect(history.allSatisfy { $0.participants + $0.skippedCount == 5 })
        #expect(Set(final.perGroupAccuracy.keys) == ["strong", "medium", "weak"])
        if strategy == "device-dropping" {
            // Only the strong group (1.0, 1.0, 1.0) admits full training.
            #expect(history.contains { $0.skippedCount > 0 })
        }
        if strategy == "cocofl" {
            // Constrained devices upload less than full models.
            let fullBytes = try Self.profile().cost(of: .full(unitCount: 5))!.uploadBytes
            #expect(history.contains { $0.uploadBytes < $0.participants * fullBytes })
        }
        print("[e2e] \(strategy): accuracy \(final.accuracy) groups \(final.perGroupAccuracy) upload \(history.reduce(0) { $0 + $1.uploadBytes })")
    }

    @Test("Static BN re-estimation is an exact cumulative average and evaluates at least as well as averaged statistics")
    func staticBatchNorm() throws {
        var accuracy: [BatchNormEvaluation: Double] = [:]
        for mode in [BatchNormEvaluation.aggregated, .reestimated] {
            var configuration = Self.configuration("fedavg")
            configuration.rounds = 2
            configuration.evaluationInterval = 2
            configuration.trainSubset = 4000
            configuration.batchNormEvaluation = mode
            let simulation = try Simulation(configuration: configuration, catalog: BuiltinStrategies.catalog(), data: try Self.data(), profile: try Self.profile())
            try simulation.run { if let e = $0.evaluation { accuracy[mode] = e.accuracy } }
        }
        // A momentum-0.1 re-estimate from (0, 1) kept 12 % of the reset values and fell to chance level.
        let reestimated = try #require(accuracy[.reestimated]), aggregated = try #require(accuracy[.aggregated])
        print("[e2e] batch norm statistics: re-estimated \(reestimated), aggregated \(aggregated)")
        #expect(reestimated > 0.5, "re-estimated BN accuracy \(reestimated)")
        #expect(reestimated >= aggregated - 0.05, "re-estimated \(reestimated) vs aggregated \(aggregated)")
    }

    @Test("The same seed reproduces a run exactly")
    func reproducible() throws {
        var configuration = Self.configuration("cocofl")
        configuration.rounds = 2
        configuration.evaluationInterval = 2
        let a = try Simulation(configuration: configuration, catalog: BuiltinStrategies.catalog(), data: try Self.data(), profile: try Self.profile())
        let b = try Simulation(configuration: configuration, catalog: BuiltinStrategies.catalog(), data: try Self.data(), profile: try Self.profile())
        try a.run { _ in }
        try b.run { _ in }
        #expect(a.global == b.global)
    }

    @Test("A device with no feasible configuration sits the round out instead of failing")
    func infeasibleDevices() throws {
        var configuration = Self.configuration("cocofl")
        configuration.rounds = 1
        configuration.mix = DeviceMix(groups: [DeviceGroup(name: "tiny", size: .share(1), time: .constant(0.001), memory: .constant(0.001), upload: .constant(0.001))])
        let simulation = try Simulation(configuration: configuration, catalog: BuiltinStrategies.catalog(), data: try Self.data(), profile: try Self.profile())
        let metrics = try simulation.runRound()
        #expect(metrics.participants == 0)
        #expect(metrics.skipped["no feasible configuration"] == 5)
    }

    @Test("Unknown strategies and options are errors that list what exists")
    func badInput() throws {
        let catalog = try BuiltinStrategies.catalog()
        let unknown = try #require(throws: (any Error).self) {
            _ = try Simulation(configuration: Self.configuration("fedavgg"), catalog: catalog, data: try Self.data(), profile: try Self.profile())
        }
        #expect("\(unknown)".contains("fedavg") && "\(unknown)".contains("cocofl"))
        var configuration = Self.configuration("heterofl")
        configuration.strategyOptions = ["ratio": "0.5"]
        let option = try #require(throws: StrategyError.self) {
            _ = try Simulation(configuration: configuration, catalog: catalog, data: try Self.data(), profile: try Self.profile())
        }
        #expect(option.description.contains("'ratio'") && option.description.contains("ratios"))
        #expect(catalog.ids == ["cocofl", "device-dropping", "fedavg", "federated-dropout", "fedrolex", "heterofl"])
    }
}
