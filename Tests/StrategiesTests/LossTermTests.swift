import CoCoFLCore
import Foundation
import NN
import Platform
import Strategies
import Testing
import TestSupport

/// A strategy's loss term reaches the host's training loop through `LocalTrainer`: FedAvg with FedProx's proximal
/// term µ/2·‖w − w_start‖², defined here as a plugin would define it.
@Suite("Local loss terms", .heavy)
struct LossTermTests {
    struct ProximalTerm: LocalLossTerm {
        let mu: Float
        func addGradient(key: String, weights: UnsafeBufferPointer<Float>, start: UnsafeBufferPointer<Float>,
                         gradient: UnsafeMutableBufferPointer<Float>) -> Double {
            var squares: Float = 0
            for index in 0..<gradient.count {
                let difference = weights[index] - start[index]
                gradient[index] += mu * difference
                squares += difference * difference
            }
            return Double(mu / 2 * squares)
        }
    }

    /// Full-model training with the proximal term; records how far each device's upload moved from the global model.
    final class Proximal: Strategy {
        let term: ProximalTerm?
        let unitCount: Int
        var distances: [Double] = []
        init(mu: Float?, unitCount: Int) {
            term = mu.map { ProximalTerm(mu: $0) }
            self.unitCount = unitCount
        }
        func train(_ device: DeviceRound, with trainer: any LocalTrainer, generator: inout SeededGenerator) throws -> LocalOutcome {
            let result = try trainer.trainWindow(.full(unitCount: unitCount), lossTerm: term, generator: &generator)
            var squares = 0.0
            // Learnable tensors only: BatchNorm's running statistics follow the data, not the loss.
            for key in result.update.keys where !key.contains("running_") && !key.hasSuffix("num_batches_tracked") {
                let local = result.update[key]!.values, start = try trainer.global.array(key).values
                squares += zip(local, start).reduce(0) { $0 + Double(($1.0 - $1.1) * ($1.0 - $1.1)) }
            }
            distances.append(squares.squareRoot())
            return .trained(result)
        }
        func aggregate(global: ParameterSet, updates: [PartialUpdate], participantCount: Int) throws -> ParameterSet {
            try BuiltinAggregationRules().fedAvg(weighting: .uniform).aggregate(global: global, updates: updates, participantCount: participantCount)
        }
    }

    static func run(mu: Float?) throws -> (Proximal, Simulation, [RoundMetrics]) {
        var configuration = RunConfiguration(strategy: "proximal")
        configuration.devices = 4
        configuration.perRound = 2
        configuration.rounds = 2
        configuration.trainSubset = 800
        configuration.testSubset = 100
        configuration.learningRate = 0.05
        configuration.learningRateMilestones = []
        let holder = Holder()
        let catalog = try StrategyCatalog([StrategyEntry(id: "proximal", summary: "test", profile: []) { _, environment in
            let strategy = Proximal(mu: mu, unitCount: environment.unitCount)
            holder.strategy = strategy
            return strategy
        }])
        let simulation = try Simulation(configuration: configuration, catalog: catalog, data: try EndToEndTests.data())
        var metrics: [RoundMetrics] = []
        try simulation.run { metrics.append($0) }
        return (try #require(holder.strategy), simulation, metrics)
    }

    final class Holder: @unchecked Sendable { var strategy: Proximal? }

    @Test("µ = 0 changes nothing bit for bit; µ = 10 (lr·µ = 0.5) keeps every upload nearer the global model and adds to the loss")
    func proximalTerm() throws {
        let (plain, plainRun, plainMetrics) = try Self.run(mu: nil)
        let (zero, zeroRun, zeroMetrics) = try Self.run(mu: 0)
        #expect(zeroRun.global == plainRun.global)
        #expect(zeroMetrics.map(\.trainingLoss) == plainMetrics.map(\.trainingLoss))
        #expect(zero.distances == plain.distances)

        let (pulled, _, pulledMetrics) = try Self.run(mu: 10)
        #expect(pulled.distances.count == plain.distances.count)
        // Round 1 starts every device from the same global model in both runs: the term must shorten each step.
        for (withTerm, without) in zip(pulled.distances.prefix(2), plain.distances.prefix(2)) {
            #expect(withTerm < 0.8 * without, "‖w − w_global‖ \(withTerm) with µ = 10 vs \(without) without")
        }
        #expect(pulledMetrics.allSatisfy { $0.trainingLoss.isFinite })
    }
}
