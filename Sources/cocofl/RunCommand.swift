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

    @Option(help: "Also write the run into this HDF5 results file (created if missing; see docs/hdf5-layout.md). Run again, the same command resumes an unfinished run from its newest checkpoint and skips a complete one.")
    var out: String?

    @Option(help: "Run name inside the results file (default: STRATEGY-MODEL-aALPHA-sSEED).")
    var name: String?

    @Option(help: "Write a checkpoint every k rounds (and after the last).")
    var checkpointEvery = 10

    @Flag(help: "With --out: run again from round 0, replacing a run of the same name (other runs are left alone).")
    var restart = false

    /// Kept so that scripts written for earlier versions still parse: a complete run is now always skipped.
    @Flag(help: .hidden)
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
        _ = try catalog.entry(id: configuration.strategy)
        var datasets = DatasetCatalog.standard
        try datasets.register(HDF5DatasetLoader())
        if let out {
            try runRecorded(configuration, into: out, catalog: catalog, datasets: datasets)
            return
        }
        let simulation = try Simulation(configuration: configuration, catalog: catalog, datasets: datasets, progress: standardError)
        var totals = Totals()
        let signals = StopSignals()
        simulation.stopRequested = { signals.requested }
        do {
            try simulation.run { try report($0, totals: &totals) }
        } catch let interruption as RunInterrupted {
            standardError("interrupted after round \(interruption.completedRounds) of \(configuration.rounds)")
            throw ExitCode(signals.exitStatus ?? 130)
        }
        finish(totals)
    }

    /// `--out`: the run as a one-run campaign through the campaign runner, so that it resumes from its newest
    /// checkpoint when run again, is skipped when complete, and is recorded `failed` or `interrupted` like any
    /// campaign run; the per-round lines are the same as without a file.
    private func runRecorded(_ configuration: RunConfiguration, into out: String, catalog: StrategyCatalog,
                             datasets: DatasetCatalog) throws {
        let runName = name ?? "\(strategy)-\(model)-a\(alpha)-s\(seed)"
        let runner = CampaignRunner(
            runs: [CampaignRun(name: runName, configuration: configuration, checkpointInterval: checkpointEvery)],
            catalog: catalog, datasets: datasets, toolVersion: toolVersion, restart: restart)
        // Everything checkable is checked before the file is created or opened; a bad path then fails before
        // minutes of profiling, and never overwrites other files.
        try runner.validate(progress: standardError)
        try runner.plan(campaignFile: out)
        let signals = StopSignals()
        runner.stopRequested = { signals.requested }
        var totals = Totals()
        var reportError: Error?
        let outcome: CampaignOutcome
        do {
            outcome = try runner.run(campaignFile: out) { event in
                switch event {
                case .message(let text): standardError(text)
                case .skipped: standardError("run '\(runName)' in \(out) is already complete with this configuration; skipping")
                case .starting(_, _, _, let after?): standardError("resuming '\(runName)' in \(out) after round \(after)")
                case .starting: break
                case .round(_, _, _, let metrics, _, _):
                    do { try report(metrics, totals: &totals) } catch { reportError = reportError ?? error }
                case .finished: break
                }
            }
        } catch let error as ResultsWriteError {
            // HDF5 cannot close a file whose cache failed to flush (it crashes trying): leave at once, as
            // `cocofl campaign` does; what was flushed before the failure is what the file keeps.
            standardError("Error: \(error)")
            _exit(1)
        }
        if let reportError { throw reportError }
        if let exitStatus = signals.exitStatus {
            standardError(outcome.interrupted.map {
                "interrupted after round \($0.afterRound) of \(configuration.rounds); '\(runName)' in \(out) is checkpointed "
                    + "there with status interrupted; resume with the same command"
            } ?? "interrupted before the run started; run the same command again to start it")
            throw ExitCode(exitStatus)
        }
        if let message = outcome.failed[runName] {
            throw CampaignFailure(description: "\(message) (run '\(runName)' is recorded as failed in \(out); fix the cause "
                                  + "and run the same command again to resume it)")
        }
        guard outcome.completed.contains(runName) else { return }
        standardError("wrote run '\(runName)' to \(out)")
        finish(totals)
    }

    private struct Totals {
        var uploadBytes = 0
        var seconds = 0.0
        var rounds = 0
    }

    /// One round's line (or JSON object) on standard output, unbuffered so that a pipe sees every round as it ends.
    private func report(_ metrics: RoundMetrics, totals: inout Totals) throws {
        totals.uploadBytes += metrics.uploadBytes
        totals.seconds += metrics.seconds
        totals.rounds += 1
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        standardOutput(json ? String(decoding: try encoder.encode(metrics), as: UTF8.self) : Self.line(metrics))
    }

    private func finish(_ totals: Totals) {
        standardError(String(format: "done: %d rounds, %.1f MB uploaded, %.2f s per round", totals.rounds,
                             Double(totals.uploadBytes) / 1e6, totals.seconds / Double(max(totals.rounds, 1))))
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
