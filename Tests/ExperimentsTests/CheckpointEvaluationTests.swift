import CoCoFLCore
import Experiments
import Foundation
import NN
import Platform
import Strategies
import Storage
import Testing
import TestSupport

/// A tiny real federated run recorded into a results file, then its checkpoints evaluated again.
@Suite("Checkpoint evaluation", .heavy)
struct CheckpointEvaluationTests {
    /// 600 real Fashion-MNIST training images over 4 devices (2 per round), 200 test images, 3 rounds evaluated
    /// every round with seeded BatchNorm re-estimation (the mode with the most state to reproduce).
    static func configuration() -> RunConfiguration {
        var configuration = RunConfiguration(strategy: "fedavg")
        configuration.model = "resnet8"
        configuration.devices = 4
        configuration.perRound = 2
        configuration.rounds = 3
        configuration.alpha = 1
        configuration.learningRate = 0.05
        configuration.momentum = 0.9
        configuration.learningRateMilestones = []
        configuration.evaluationInterval = 1
        configuration.trainSubset = 600
        configuration.testSubset = 200
        configuration.seed = 11
        configuration.batchNormEvaluation = .reestimated
        return configuration
    }

    /// Runs the simulation into `path` as run "tiny" (checkpoints every round; the recorder keeps the last two).
    static func recordRun(at path: String) throws {
        let configuration = configuration()
        let context = try ComputeContext()
        let model = try ModelZoo.make("resnet8", inputShape: [1, 28, 28], classes: 10, seed: 1, context: context)
        // FedAvg never reads the profile; an empty one with the right units skips minutes of profiling.
        let profile = ModelProfile(model: "resnet8", inputShape: [1, 28, 28], classes: 10, batch: 32, repeats: 1,
                                   unitNames: model.units.map(\.name), windows: [])
        let simulation = try Simulation(configuration: configuration, catalog: BuiltinStrategies.catalog(), profile: profile)
        let recorder = try RunRecorder(creating: "tiny", in: path, lockFile: path, simulation: simulation, checkpointInterval: 1,
                                       toolVersion: "test")
        try simulation.run { try recorder.append($0, simulation: simulation) }
        try recorder.complete()
    }

    /// The recorded `accuracy` and `loss` of `round`.
    static func recorded(_ results: ResultsFile, round: Int) throws -> (accuracy: Double, loss: Double) {
        let metrics = try results.openRun("tiny").metrics()
        let row = try #require(metrics["round"]?.firstIndex(of: Double(round)))
        return (try #require(metrics["accuracy"]?[row]), try #require(metrics["loss"]?[row]))
    }

    @Test("Stored checkpoints evaluate to the metrics the run recorded; a missing round lists the available ones")
    func reproducesRecordedMetrics() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("ExperimentsTests-\(UUID())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        do {
            let path = directory.appendingPathComponent("results.h5").path
            try Self.recordRun(at: path)
            let results = try ResultsFile(path: path, access: .readOnly)
            #expect(try results.openRun("tiny").checkpointRounds() == [2, 3])

            // The newest checkpoint, with the run's own settings: the same numbers as during the run.
            let final = try results.evaluateCheckpoint(CheckpointEvaluationRequest(run: "tiny"), datasets: .standard)
            let recordedFinal = try Self.recorded(results, round: 3)
            #expect(final.round == 3)
            #expect(final.testSamples == 200)
            #expect(final.batchNormEvaluation == .reestimated)
            #expect(abs(final.metrics.accuracy - recordedFinal.accuracy) <= 1e-6)
            #expect(abs(final.metrics.loss - recordedFinal.loss) <= 1e-6)
            #expect(final.recordedAccuracy == recordedFinal.accuracy)
            #expect(final.metrics.accuracy > 0.3, "3 rounds of FedAvg on 600 images: accuracy \(final.metrics.accuracy)")
            #expect(final.groupNames == ["strong", "medium", "weak"])
            #expect(Set(final.metrics.perGroupAccuracy.keys) == ["strong", "medium", "weak"])
            let metrics = try results.openRun("tiny").metrics()
            let lastRow = try #require(metrics["round"]).count - 1
            for (group, accuracy) in final.metrics.perGroupAccuracy {
                #expect(abs(accuracy - metrics["accuracy_\(group)"]![lastRow]) <= 1e-9, "group \(group)")
            }
            for (index, accuracy) in final.metrics.perClassAccuracy.enumerated() {
                #expect(abs(accuracy - metrics["accuracy_class_\(index)"]![lastRow]) <= 1e-9, "class \(index)")
            }

            // An earlier checkpoint reproduces its own round (re-estimation is seeded by the round).
            let earlier = try results.evaluateCheckpoint(CheckpointEvaluationRequest(run: "tiny", round: 2), datasets: .standard)
            let recordedEarlier = try Self.recorded(results, round: 2)
            #expect(abs(earlier.metrics.accuracy - recordedEarlier.accuracy) <= 1e-6)
            #expect(abs(earlier.metrics.loss - recordedEarlier.loss) <= 1e-6)

            // Another BatchNorm mode and the full test set evaluate, but are not the run's evaluation.
            let aggregated = try results.evaluateCheckpoint(
                CheckpointEvaluationRequest(run: "tiny", batchNormEvaluation: .aggregated, testSubset: .first(100)),
                datasets: .standard)
            #expect(aggregated.testSamples == 100)
            #expect(aggregated.recordedAccuracy == nil)
            #expect(aggregated.metrics.perClassAccuracy.count == 10)

            let missing = try #require(throws: ResultsError.self) {
                _ = try results.evaluateCheckpoint(CheckpointEvaluationRequest(run: "tiny", round: 1), datasets: .standard)
            }
            #expect(missing.kind == .notFound)
            #expect(missing.description.contains("round 1") && missing.description.contains("[2, 3]"), "\(missing)")

            let unknownRun = try #require(throws: ResultsError.self) {
                _ = try results.evaluateCheckpoint(CheckpointEvaluationRequest(run: "tiny2"), datasets: .standard)
            }
            #expect(unknownRun.description.contains("'tiny'"), "\(unknownRun)")

            // A dataset the model cannot take is named with its shape, not reported as a failed copy.
            let catalog = try DatasetCatalog(loaders: [ColourSquares()])
            let unfit = try #require(throws: ResultsError.self) {
                _ = try results.evaluateCheckpoint(CheckpointEvaluationRequest(run: "tiny", dataset: "colour-squares"),
                                                   datasets: catalog)
            }
            #expect(unfit.description.contains("colour-squares") && unfit.description.contains("3×8×8")
                && unfit.description.contains("fashion-mnist"), "\(unfit)")
        }
    }

    @Test("Group shares sum each group's device histograms and name unknown groups")
    func groupShares() throws {
        let shares = try GroupClassShares(
            groupNames: ["strong", "weak", "empty"], deviceGroups: ["strong", "weak", "strong"],
            classHistograms: [[3, 1], [0, 4], [1, 3]], classCount: 2)
        #expect(shares.shares == [[0.5, 0.5], [0, 1], [0, 0]])
        let error = try #require(throws: SimulationError.self) {
            _ = try GroupClassShares(groupNames: ["strong"], deviceGroups: ["medium"], classHistograms: [[1, 1]], classCount: 2)
        }
        #expect(error.description.contains("'medium'"))
    }
}

/// Ten classes of 3×8×8 colour images: a dataset whose shape no Fashion-MNIST model takes.
private struct ColourSquares: DatasetLoader {
    let name = "colour-squares"
    let defaultDirectory = "/nonexistent"

    func load(directory: String) throws -> DatasetSplit {
        func split(_ count: Int) -> Dataset {
            let labels = (0..<count).map { Int32($0 % 10) }
            let images = labels.flatMap { label in [UInt8](repeating: UInt8(25 * label), count: 3 * 8 * 8) }
            return Dataset(name: name, images: images, labels: labels, channels: 3, height: 8, width: 8, classCount: 10,
                           normalization: .unit(channels: 3))
        }
        return DatasetSplit(train: split(20), test: split(10))
    }
}
