import CoCoFLCore
import Foundation
import NN
import Platform
import Storage

/// Which test samples a checkpoint evaluation uses.
public enum TestSubsetChoice: Equatable, Sendable {
    /// The run's own `testSubset` (the samples it was evaluated on while it ran; all when it had none).
    case run
    /// The whole test set.
    case all
    /// The first n test samples.
    case first(Int)
}

/// What to evaluate: one stored checkpoint of a run, on which data, with which BatchNorm mode.
public struct CheckpointEvaluationRequest: Equatable, Sendable {
    /// The run's name in the results file.
    public var run: String
    /// The checkpoint's round; nil: the newest complete checkpoint.
    public var round: Int?
    /// The dataset name in the catalog; nil: the run's dataset.
    public var dataset: String?
    /// Where the dataset's files are; nil: the run's directory for the run's dataset, else the loader's default.
    public var dataDirectory: String?
    /// How BatchNorm behaves; nil: the run's mode.
    public var batchNormEvaluation: BatchNormEvaluation?
    /// Which test samples are evaluated.
    public var testSubset: TestSubsetChoice

    /// Describes an evaluation; every nil takes the run's setting.
    public init(run: String, round: Int? = nil, dataset: String? = nil, dataDirectory: String? = nil,
                batchNormEvaluation: BatchNormEvaluation? = nil, testSubset: TestSubsetChoice = .run) {
        self.run = run
        self.round = round
        self.dataset = dataset
        self.dataDirectory = dataDirectory
        self.batchNormEvaluation = batchNormEvaluation
        self.testSubset = testSubset
    }
}

/// The evaluation of one stored checkpoint.
public struct CheckpointEvaluation: Codable, Sendable {
    /// The run's name.
    public let run: String
    /// The checkpoint's round.
    public let round: Int
    /// The model id.
    public let model: String
    /// The dataset evaluated on.
    public let dataset: String
    /// How BatchNorm behaved.
    public let batchNormEvaluation: BatchNormEvaluation
    /// The number of test samples evaluated.
    public let testSamples: Int
    /// The group names of the run in order (the keys of `metrics.perGroupAccuracy`).
    public let groupNames: [String]
    /// Loss, accuracy, per-class and per-group accuracy and the group gap.
    public let metrics: EvaluationMetrics
    /// The run's own evaluation of that round (accuracy, loss), when this evaluation repeats it: same dataset,
    /// data directory, BatchNorm mode and test samples, and the round was evaluated. Nil otherwise.
    public let recordedAccuracy: Double?
    /// The test loss the run recorded for that round, under the same conditions as `recordedAccuracy`.
    public let recordedLoss: Double?
}

extension ResultsFile {
    /// Evaluates a stored checkpoint: rebuilds the run's model from its stored configuration, loads the checkpoint
    /// and the dataset (from `datasets`), and evaluates exactly as the simulation does after that round —
    /// including the seeded BatchNorm re-estimation — so the run's own setting reproduces its recorded metrics.
    ///
    /// Per-group accuracy weighs classes by the run's device table (the groups' training data). The run's
    /// `trainSubset` limits the samples BatchNorm re-estimation draws from, as it did in the run.
    public func evaluateCheckpoint(_ request: CheckpointEvaluationRequest, datasets: DatasetCatalog) throws
        -> CheckpointEvaluation
    {
        let record = try openRun(request.run)
        let configuration = try record.runConfiguration()
        let round = try request.round ?? record.latestCheckpointRound()
        let checkpoint = try record.checkpoint(round: round)

        let datasetName = request.dataset ?? configuration.dataset
        let directory = request.dataDirectory ?? (datasetName == configuration.dataset ? configuration.dataDirectory : nil)
        var split = try datasets.load(name: datasetName, directory: directory)
        if let n = configuration.trainSubset {
            split = DatasetSplit(train: try split.train.subset(first: min(n, split.train.count)), test: split.test)
        }
        let testLimit: Int?
        switch request.testSubset {
        case .run: testLimit = configuration.testSubset
        case .all: testLimit = nil
        case .first(let n):
            guard n >= 1 else {
                throw record.error(.invalidValue, "the test subset must hold at least 1 sample, got \(n)")
            }
            testLimit = n
        }
        if let testLimit {
            split = DatasetSplit(train: split.train, test: try split.test.subset(first: min(testLimit, split.test.count)))
        }

        let table = try record.hasDevices() ? record.devices() : DeviceTable(devices: [], groupNames: [])
        if let runClasses = table.devices.first?.classHistogram.count, runClasses != split.test.classCount {
            throw record.error(
                .invalidValue,
                "dataset '\(datasetName)' has \(split.test.classCount) classes, but run '\(request.run)' was trained "
                    + "on \(runClasses) classes of '\(configuration.dataset)'; evaluate on a dataset with "
                    + "\(runClasses) classes")
        }
        let inputShape = [split.test.channels, split.test.height, split.test.width]
        let context = try ComputeContext()
        let model: Model
        do {
            model = try ModelZoo.make(configuration.model, inputShape: inputShape, classes: split.test.classCount,
                                      seed: configuration.seed, context: context)
        } catch {
            throw record.error(
                .invalidValue,
                "model \(configuration.model) cannot be built for dataset '\(datasetName)' "
                    + "(\(inputShape.map(String.init).joined(separator: "×")) images of \(split.test.classCount) classes: "
                    + "\(error)); evaluate on a dataset shaped like '\(configuration.dataset)', the run's dataset")
        }
        try record.checkFit(checkpoint, model: model, datasetName: datasetName, runDataset: configuration.dataset)

        let shares = try GroupClassShares(
            groupNames: table.groupNames, deviceGroups: table.devices.map(\.group),
            classHistograms: table.devices.map(\.classHistogram), classCount: model.classCount)
        let mode = request.batchNormEvaluation ?? configuration.batchNormEvaluation
        let evaluator = try Evaluator(model: model, data: split, batchNormEvaluation: mode,
                                      batchSize: configuration.batchSize, groupShares: shares)
        let generator = Evaluator.reestimationGenerator(root: SeededGenerator(seed: configuration.seed), round: round)
        let metrics = try evaluator.evaluate(checkpoint.parameters, generator: generator)

        let repeatsRun = datasetName == configuration.dataset && directory == configuration.dataDirectory
            && mode == configuration.batchNormEvaluation && testLimit == configuration.testSubset
        let recorded = repeatsRun ? try record.recordedEvaluation(round: round) : nil
        return CheckpointEvaluation(
            run: request.run, round: round, model: configuration.model, dataset: datasetName,
            batchNormEvaluation: mode, testSamples: split.test.count, groupNames: table.groupNames, metrics: metrics,
            recordedAccuracy: recorded?.accuracy, recordedLoss: recorded?.loss)
    }
}

extension RunRecord {
    /// Throws naming the first parameter whose key or shape differs between `checkpoint` and `model`, so that a
    /// dataset of another shape is reported as such rather than as a failed copy.
    func checkFit(_ checkpoint: Checkpoint, model: Model, datasetName: String, runDataset: String) throws {
        let expected = Dictionary(uniqueKeysWithValues: try model.exportParameters().map { ($0.key, $0.shape) })
        let stored = Dictionary(uniqueKeysWithValues: checkpoint.parameters.map { ($0.key, $0.shape) })
        let shape = "\(model.inputShape.map(String.init).joined(separator: "×")) images of \(model.classCount) classes"
        let fix = "evaluate on a dataset shaped like '\(runDataset)', the run's dataset"
        let checkpointPath = "\(ResultsLayout.checkpoints)/\(ResultsLayout.checkpointPrefix)\(checkpoint.round)"
        for key in expected.keys.sorted() {
            guard let storedShape = stored[key] else {
                throw error(
                    .damaged, at: checkpointPath,
                    "the checkpoint lacks parameter '\(key)' of model \(model.name); it is incomplete or from "
                        + "another model")
            }
            if storedShape != expected[key] {
                throw error(
                    .invalidValue, at: checkpointPath,
                    "model \(model.name) built for dataset '\(datasetName)' (\(shape)) has parameter '\(key)' of "
                        + "shape \(expected[key]!), the checkpoint \(storedShape); \(fix)")
            }
        }
        if let extra = stored.keys.sorted().first(where: { expected[$0] == nil }) {
            throw error(
                .damaged, at: checkpointPath,
                "the checkpoint holds parameter '\(extra)', which model \(model.name) does not have; it is from "
                    + "another model")
        }
    }
}
