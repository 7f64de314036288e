import ArgumentParser
import Experiments
import Foundation
import Platform
import Storage

/// `cocofl evaluate`: evaluates a stored checkpoint of a run on a dataset.
struct EvaluateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "evaluate",
        abstract: "Evaluate a run's stored checkpoint: accuracy, loss, per-class and per-group accuracy.",
        discussion: """
            Rebuilds the run's model from the configuration stored with it, loads the checkpoint of --round (default: \
            the newest complete one) and evaluates it on the test set of --dataset (default: the run's), exactly as \
            the run evaluated after that round: with the run's BatchNorm mode, batch size, test subset and seeded \
            re-estimation. Evaluating with the run's own settings therefore reproduces the accuracy it recorded for \
            that round (shown as "recorded"). Per-group accuracy weighs each class by the group's share of it in the \
            run's device table.
            """)

    @Argument(help: "The results file (.h5).")
    var file: String

    @Option(name: .customLong("run"), help: ArgumentHelp("The run's name in the file (see cocofl inspect).", valueName: "name"))
    var runName: String

    @Option(help: "The checkpoint's round (default: the newest complete checkpoint).")
    var round: Int?

    @Option(help: "Dataset to evaluate on: fashion-mnist, mnist (each also as NAME-3x32x32), cifar10, cifar100, femnist, hdf5 (default: the run's).")
    var dataset: String?

    @Option(help: "Directory with the dataset files (default: the run's for its own dataset, else the dataset's usual place).")
    var dataDir: String?

    @Option(help: "BatchNorm at evaluation: aggregated, test-batch, reestimated (default: the run's).")
    var bnEval: String?

    @Option(help: "Evaluate only the first n test samples (default: the run's test subset).")
    var testSubset: Int?

    @Flag(help: "Evaluate the whole test set even if the run used a test subset.")
    var fullTestSet = false

    @Flag(help: "Print JSON instead of text.")
    var json = false

    func validate() throws {
        _ = try batchNormEvaluation()
        if let round, round < 0 { throw ValidationError("--round must be 0 or more, got \(round)") }
        if let testSubset, testSubset < 1 { throw ValidationError("--test-subset must be at least 1, got \(testSubset)") }
        if testSubset != nil && fullTestSet { throw ValidationError("give --test-subset or --full-test-set, not both") }
    }

    private func batchNormEvaluation() throws -> BatchNormEvaluation? {
        guard let bnEval else { return nil }
        guard let mode = BatchNormEvaluation(rawValue: bnEval) else {
            throw ValidationError("--bn-eval must be one of \(BatchNormEvaluation.allCases.map(\.rawValue).joined(separator: ", ")), got '\(bnEval)'")
        }
        return mode
    }

    func run() throws {
        try MissingResultsFile.check(file)
        var datasets = DatasetCatalog.standard
        try datasets.register(HDF5DatasetLoader())
        let request = CheckpointEvaluationRequest(
            run: runName, round: round, dataset: dataset, dataDirectory: dataDir, batchNormEvaluation: try batchNormEvaluation(),
            testSubset: fullTestSet ? .all : testSubset.map { .first($0) } ?? .run)
        let evaluation = try ResultsFile(path: file, access: .readOnly).evaluateCheckpoint(request, datasets: datasets)
        print(json ? try InspectCommand.encode(evaluation) : Self.text(evaluation))
    }

    static func text(_ evaluation: CheckpointEvaluation) -> String {
        let metrics = evaluation.metrics
        var lines = [
            "run '\(evaluation.run)', checkpoint of round \(evaluation.round): \(evaluation.model) on \(evaluation.dataset) "
                + "(\(evaluation.testSamples) test samples), BatchNorm \(evaluation.batchNormEvaluation.rawValue)",
            String(format: "accuracy %.4f  loss %.4f", metrics.accuracy, metrics.loss),
        ]
        if let accuracy = evaluation.recordedAccuracy, let loss = evaluation.recordedLoss {
            lines.append(String(format: "recorded by the run after round %d: accuracy %.4f  loss %.4f", evaluation.round, accuracy, loss))
        }
        if !metrics.perGroupAccuracy.isEmpty {
            let groups = evaluation.groupNames.compactMap { name in
                metrics.perGroupAccuracy[name].map { String(format: "%@ %.4f", name, $0) }
            }
            lines.append("per group: " + groups.joined(separator: "  ") + String(format: "  gap %.4f", metrics.groupGap))
        }
        let classes = metrics.perClassAccuracy.enumerated().map { String(format: "%d: %.4f", $0.offset, $0.element) }
        lines.append("per class: " + classes.joined(separator: "  "))
        return lines.joined(separator: "\n")
    }
}
