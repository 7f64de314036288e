import ArgumentParser
import Experiments
import Foundation
import NN
import Platform
import Plugins
import Storage

/// `cocofl run`: one federated experiment.
struct RunCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run one federated experiment and print per-round metrics.",
        discussion: """
            Simulates --devices devices (reference groups strong/medium/weak by default) holding a Dirichlet(--alpha) \
            label-skewed split of the dataset; each round --per-round devices are sampled, plan their local work with \
            the strategy, train, upload and the strategy aggregates. The profile CoCoFL chooses windows from is \
            measured on this machine at the start. Prints one line per round (evaluation rounds add accuracy, \
            per-group accuracy and the group gap); --json prints one JSON object per round.
            """)

    @Option(help: "Strategy id (see cocofl strategies).")
    var strategy: String

    @OptionGroup var plugins: PluginOptions

    @Option(name: .customLong("option"), help: "Strategy option KEY=VALUE (repeatable).")
    var options: [String] = []

    @Option(help: "Dataset: fashion-mnist, mnist, fashion-mnist-3x32x32, mnist-3x32x32 (padded, 3 grey channels), cifar10, cifar100, femnist, hdf5 (--data-dir names the .h5 file).")
    var dataset = "fashion-mnist"

    @Option(help: "Directory with the dataset files (default: the dataset's usual place).")
    var dataDir: String?

    @Option(help: "Model: \(ModelZoo.names.joined(separator: ", ")).")
    var model = "resnet8"

    @Option(help: "Rounds.")
    var rounds = 50

    @Option(help: "Devices.")
    var devices = 100

    @Option(help: "Devices sampled per round.")
    var perRound = 10

    @Option(help: "Partition: dirichlet (label skew, equal shards), dirichlet-natural (natural sizes), resource-correlated (Dirichlet over the device groups), iid, natural (writers or HDF5 device ids).")
    var partition = "dirichlet"

    @Option(help: "Dirichlet concentration α of the label skew.")
    var alpha = 0.1

    @Option(help: "Seed of every random choice in the run.")
    var seed: UInt64 = 1

    @Option(help: "Learning rate.")
    var lr = 0.1

    @Option(help: "Rounds after which the learning rate is divided by 10, comma-separated (default: 60% and 80% of --rounds).")
    var lrMilestones: String?

    @Option(help: "Local epochs per round.")
    var localEpochs = 1

    @Option(help: "Batch size.")
    var batch = 32

    @Option(help: "Evaluate every k rounds.")
    var evalEvery = 1

    @Option(help: "BatchNorm at evaluation: aggregated, test-batch, reestimated.")
    var bnEval = "aggregated"

    @Option(help: "Use only the first n training samples (quick runs).")
    var trainSubset: Int?

    @Option(help: "Use only the first n test samples (quick runs).")
    var testSubset: Int?

    @Flag(help: "Print one JSON object per round instead of text.")
    var json = false

    @Option(help: "Also write the run into this HDF5 results file (created if missing; see docs/hdf5-layout.md).")
    var out: String?

    @Option(help: "Run name inside the results file (default: STRATEGY-MODEL-aALPHA-sSEED).")
    var name: String?

    @Option(help: "Write a checkpoint every k rounds (and after the last).")
    var checkpointEvery = 10

    @Flag(help: "With --out: exit successfully without running if the file already holds this run, complete.")
    var skipComplete = false

    func runConfiguration() throws -> RunConfiguration {
        var configuration = RunConfiguration(strategy: strategy)
        for option in options {
            let parts = option.split(separator: "=", maxSplits: 1).map(String.init)
            guard parts.count == 2, !parts[0].isEmpty else { throw ValidationError("--option takes KEY=VALUE, got '\(option)'") }
            configuration.strategyOptions[parts[0]] = parts[1]
        }
        configuration.dataset = dataset
        configuration.dataDirectory = dataDir
        configuration.model = model
        configuration.rounds = rounds
        configuration.devices = devices
        configuration.perRound = perRound
        guard let scheme = PartitionScheme.named(partition, alpha: alpha) else {
            throw ValidationError("--partition must be one of \(PartitionScheme.names.joined(separator: ", ")); got '\(partition)'")
        }
        configuration.partition = scheme
        configuration.seed = seed
        configuration.learningRate = lr
        if let lrMilestones {
            let values = lrMilestones.split(separator: ",").map { Int($0.trimmingCharacters(in: .whitespaces)) }
            guard values.allSatisfy({ $0 != nil }) else { throw ValidationError("--lr-milestones takes comma-separated round numbers, got '\(lrMilestones)'") }
            configuration.learningRateMilestones = values.map { $0! }
        } else {
            configuration.learningRateMilestones = RunConfiguration.defaultMilestones(rounds: rounds)
        }
        configuration.localEpochs = localEpochs
        configuration.batchSize = batch
        configuration.evaluationInterval = evalEvery
        guard let mode = BatchNormEvaluation(rawValue: bnEval) else {
            throw ValidationError("--bn-eval must be one of \(BatchNormEvaluation.allCases.map(\.rawValue).joined(separator: ", ")), got '\(bnEval)'")
        }
        configuration.batchNormEvaluation = mode
        configuration.trainSubset = trainSubset
        configuration.testSubset = testSubset
        return configuration
    }

    func validate() throws {
        try runConfiguration().validate()
    }

    func run() throws {
        let configuration = try runConfiguration()
        let catalog = try plugins.strategies().catalog
        // Open the output first: a bad path fails before minutes of profiling, and never overwrites other files.
        let results = try out.map { try ResultsFile(path: $0, access: .createOrAppend(toolVersion: toolVersion)) }
        let runName = name ?? "\(strategy)-\(model)-a\(alpha)-s\(seed)"
        if let results, let out, try results.containsRun(runName) {
            let record = try results.openRun(runName)
            let summary = try record.summary()
            let stored = try? JSONDecoder().decode(RunConfiguration.self, from: Data(record.metadata().specification.configuration.utf8))
            if skipComplete && summary.status == .complete && stored == configuration {
                standardError("run '\(runName)' in \(out) is already complete with this configuration; skipping")
                return
            }
            let difference = stored == configuration ? "" : " with a different configuration"
            throw ValidationError("\(out) already holds a run named '\(runName)'\(difference) (status \(summary.status.rawValue)); pass another --name or --out, or remove the file to start over")
        }
        _ = try catalog.entry(id: configuration.strategy)
        var datasets = DatasetCatalog.standard
        try datasets.register(HDF5DatasetLoader())
        let simulation = try Simulation(configuration: configuration, catalog: catalog, datasets: datasets, progress: standardError)
        let recorder = try results.map {
            try RunRecorder(results: $0, name: runName, simulation: simulation, checkpointInterval: checkpointEvery, toolVersion: toolVersion)
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        var uploadTotal = 0
        var secondsTotal = 0.0
        let signals = StopSignals()
        simulation.stopRequested = { signals.requested }
        do {
            try simulate(simulation, recorder: recorder, encoder: encoder, uploadTotal: &uploadTotal, secondsTotal: &secondsTotal)
        } catch let interruption as RunInterrupted {
            try recorder?.interrupt(simulation)
            standardError("interrupted after round \(interruption.completedRounds) of \(configuration.rounds)"
                          + (out.map { "; '\(runName)' in \($0) is checkpointed there with status interrupted" } ?? ""))
            throw ExitCode(signals.exitStatus ?? 130)
        } catch {
            try? recorder?.fail(error)
            throw error
        }
        try recorder?.complete()
        if let out { standardError("wrote run '\(runName)' to \(out)") }
        standardError(String(format: "done: %d rounds, %.1f MB uploaded, %.2f s per round", configuration.rounds,
                             Double(uploadTotal) / 1e6, secondsTotal / Double(configuration.rounds)))
    }

    private func simulate(_ simulation: Simulation, recorder: RunRecorder?, encoder: JSONEncoder,
                          uploadTotal: inout Int, secondsTotal: inout Double) throws {
        try simulation.run { metrics in
            try recorder?.append(metrics, simulation: simulation)
            uploadTotal += metrics.uploadBytes
            secondsTotal += metrics.seconds
            // Unbuffered, so that a pipe sees every round as it completes.
            standardOutput(json ? String(decoding: try encoder.encode(metrics), as: UTF8.self) : Self.line(metrics))
        }
    }

    static func line(_ m: RoundMetrics) -> String {
        var text = String(format: "round %4d  lr %.4f  devices %2d (+%d skipped)  upload %7.2f MB  time %.2f  loss %.3f  %5.1f s",
                          m.round, m.learningRate, m.participants, m.skippedCount, Double(m.uploadBytes) / 1e6, m.meanDeviceTimeRatio,
                          m.trainingLoss, m.seconds)
        if !m.skipped.isEmpty {
            text += "  (skipped: " + m.skipped.keys.sorted().map { "\(m.skipped[$0]!) \($0)" }.joined(separator: ", ") + ")"
        }
        if let e = m.evaluation {
            let groups = e.perGroupAccuracy.keys.sorted().map { String(format: "%@ %.3f", $0, e.perGroupAccuracy[$0]!) }.joined(separator: " ")
            text += String(format: "  | accuracy %.4f  loss %.3f  ", e.accuracy, e.loss) + groups + String(format: "  gap %.3f", e.groupGap)
        }
        return text
    }
}
