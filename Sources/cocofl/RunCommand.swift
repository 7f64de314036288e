import CoCoFLCore
import ArgumentParser
import Experiments
import Foundation
import NN
import Platform
import Ranks
import Strategies
import Storage

/// `cocofl run`: one federated experiment.
struct RunCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run one federated experiment and print per-round metrics.",
        discussion: """
            Simulates --devices devices (reference groups strong/medium/weak by default) holding a Dirichlet(--alpha) \
            label-skewed split of the dataset; each round --per-round devices are sampled and train as the strategy \
            decides (a CoCoFL window, a sub-model, the full model), upload, and the strategy aggregates. The profile \
            CoCoFL chooses windows from is measured on this machine at the start. Prints one line per round \
            (evaluation rounds add accuracy, per-group accuracy and the group gap); --json prints one JSON object per \
            round. Every option below that names a configuration key is that key of the run configuration \
            (docs/configuration.md: the same keys as a campaign file's [run] table and the stored JSON); its default \
            is the paper's reference setting.
            """)

    // The run's configuration: one option per key of the schema (RunConfiguration.Key), each named by the key with
    // dashes; an option left out takes the schema's default.

    @Option(help: RunConfiguration.Key.strategy.help)
    var strategy: String

    @OptionGroup var plugins: PluginOptions

    @Option(name: [.customLong("strategy-option"), .customLong("option")],
            help: ArgumentHelp("A strategy option KEY=VALUE (repeatable; configuration key strategy_options).", valueName: "key=value"))
    var strategyOptions: [String] = []

    @Option(help: RunConfiguration.Key.dataset.help) var dataset: String?
    @Option(help: RunConfiguration.Key.dataDirectory.help) var dataDir: String?
    @Option(help: RunConfiguration.Key.model.help) var model: String?
    @Option(help: RunConfiguration.Key.rounds.help) var rounds: Int?
    @Option(help: RunConfiguration.Key.devices.help) var devices: Int?
    @Option(help: RunConfiguration.Key.perRound.help) var perRound: Int?
    @Option(help: RunConfiguration.Key.partition.help) var partition: String?
    @Option(help: RunConfiguration.Key.alpha.help) var alpha: Double?
    @Option(help: RunConfiguration.Key.mix.help) var mix: String?
    @Option(help: RunConfiguration.Key.seed.help) var seed: Int?
    @Option(help: RunConfiguration.Key.localEpochs.help) var localEpochs: Int?
    @Option(help: RunConfiguration.Key.batch.help) var batch: Int?
    @Option(help: RunConfiguration.Key.lr.help) var lr: Double?
    @Option(help: ArgumentHelp(RunConfiguration.Key.lrMilestones.help.abstract + " Comma-separated.", valueName: "rounds"))
    var lrMilestones: String?
    @Option(help: RunConfiguration.Key.weightDecay.help) var weightDecay: Double?
    @Option(help: RunConfiguration.Key.momentum.help) var momentum: Double?
    @Option(help: RunConfiguration.Key.evalEvery.help) var evalEvery: Int?
    @Option(help: RunConfiguration.Key.bnEval.help) var bnEval: String?
    @Option(help: RunConfiguration.Key.trainSubset.help) var trainSubset: Int?
    @Option(help: RunConfiguration.Key.testSubset.help) var testSubset: Int?
    @Option(help: RunConfiguration.Key.profileRepeats.help) var profileRepeats: Int?
    @Option(help: RunConfiguration.Key.checkpointEvery.help) var checkpointEvery: Int?

    @OptionGroup var profiles: SuppliedProfiles

    @Flag(help: "Print one JSON object per round instead of text.")
    var json = false

    @Option(help: "Also write the run into this HDF5 results file (created if missing; see docs/hdf5-layout.md). Run again, the same command resumes an unfinished run from its newest checkpoint and skips a complete one.")
    var out: String?

    @Option(help: "Run name inside the results file (default: STRATEGY-MODEL-aALPHA-sSEED).")
    var name: String?

    @Flag(help: "With --out: run again from round 0, replacing a run of the same name (other runs are left alone).")
    var restart = false

    /// Kept so that scripts written for earlier versions still parse: a complete run is now always skipped.
    @Flag(help: .hidden)
    var skipComplete = false

    /// The options given, as schema values in the order of the schema's keys.
    func configurationValues() throws -> [(RunConfiguration.Key, RunConfiguration.Value)] {
        var values: [(RunConfiguration.Key, RunConfiguration.Value)] = [(.strategy, .text(strategy))]
        if !strategyOptions.isEmpty {
            var options: [String: String] = [:]
            for option in strategyOptions {
                let parts = option.split(separator: "=", maxSplits: 1).map(String.init)
                guard parts.count == 2, !parts[0].isEmpty else {
                    throw CommandLineError(description: "--strategy-option takes KEY=VALUE, got '\(option)'")
                }
                options[parts[0]] = parts[1]
            }
            values.append((.strategyOptions, .options(options)))
        }
        func add(_ key: RunConfiguration.Key, _ value: RunConfiguration.Value?) { if let value { values.append((key, value)) } }
        add(.dataset, dataset.map { .text($0) })
        add(.dataDirectory, dataDir.map { .text($0) })
        add(.model, model.map { .text($0) })
        add(.rounds, rounds.map { .integer($0) })
        add(.devices, devices.map { .integer($0) })
        add(.perRound, perRound.map { .integer($0) })
        add(.partition, partition.map { .text($0) })
        add(.alpha, alpha.map { .number($0) })
        if let mix {
            guard let chosen = DeviceMix.builtIn[mix] else {
                throw CommandLineError(description: "--mix is '\(mix)'; use " + DeviceMix.builtIn.keys.sorted().joined(separator: " or ")
                                       + " (other device mixes are defined in campaign files, docs/campaigns.md)")
            }
            values.append((.mix, .mix(chosen)))
        }
        add(.seed, seed.map { .integer($0) })
        add(.localEpochs, localEpochs.map { .integer($0) })
        add(.batch, batch.map { .integer($0) })
        add(.lr, lr.map { .number($0) })
        if let lrMilestones {
            let rounds = lrMilestones.split(separator: ",").map { Int($0.trimmingCharacters(in: .whitespaces)) }
            guard rounds.allSatisfy({ $0 != nil }) else {
                throw CommandLineError(description: "--lr-milestones takes comma-separated round numbers, got '\(lrMilestones)'")
            }
            values.append((.lrMilestones, .integers(rounds.map { $0! })))
        }
        add(.weightDecay, weightDecay.map { .number($0) })
        add(.momentum, momentum.map { .number($0) })
        add(.evalEvery, evalEvery.map { .integer($0) })
        add(.bnEval, bnEval.map { .text($0) })
        add(.trainSubset, trainSubset.map { .integer($0) })
        add(.testSubset, testSubset.map { .integer($0) })
        add(.profileRepeats, profileRepeats.map { .integer($0) })
        add(.checkpointEvery, checkpointEvery.map { .integer($0) })
        return values
    }

    /// The run's configuration: the options over the schema's defaults, validated (errors name the options).
    func runConfiguration() throws -> RunConfiguration {
        do {
            return try RunConfiguration.assemble(try configurationValues())
        } catch {
            throw commandLineError(error)
        }
    }

    func run() throws {
        do {
            try runCommand()
        } catch {
            throw commandLineError(error)
        }
    }

    private func runCommand() throws {
        let configuration = try runConfiguration()
        let catalog = try plugins.strategies().catalog
        _ = try catalog.entry(id: configuration.strategy)
        var datasets = DatasetCatalog.standard
        try datasets.register(HDF5DatasetLoader())
        let supplied = try profiles.load()
        // Under mpirun: ranks other than 0 follow rank 0's run and never return from here.
        let job = try RankJob.start()
        if let job, !job.world.isRoot { job.follow(catalog: catalog, datasets: datasets) }
        let body = { (leader: RankLeader?) throws in
            if let out {
                try runRecorded(configuration, into: out, catalog: catalog, datasets: datasets, profiles: supplied, coordinator: leader)
            } else {
                try runUnrecorded(configuration, catalog: catalog, datasets: datasets, profiles: supplied, coordinator: leader)
            }
        }
        if let job {
            try job.lead(body)
        } else {
            try body(nil)
        }
    }

    /// Without `--out`: the simulation's lines on standard output, nothing written.
    private func runUnrecorded(_ configuration: RunConfiguration, catalog: StrategyCatalog, datasets: DatasetCatalog,
                               profiles: [ModelProfile], coordinator: RankLeader?) throws {
        let profile = profiles.first { $0.model == configuration.model && $0.batch == configuration.batchSize }
        let simulation = try Simulation(configuration: configuration, catalog: catalog, datasets: datasets, profile: profile,
                                        progress: standardError)
        var totals = Totals()
        let signals = StopSignals()
        simulation.stopRequested = { signals.requested }
        try coordinator?.willRun(simulation)
        defer { coordinator?.runEnded() }
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
                             datasets: DatasetCatalog, profiles: [ModelProfile], coordinator: RankLeader?) throws {
        let runName = name ?? "\(strategy)-\(configuration.model)-a\(configuration.alpha)-s\(configuration.seed)"
        let runner = CampaignRunner(
            runs: [CampaignRun(name: runName, configuration: configuration)],
            catalog: catalog, datasets: datasets, toolVersion: toolVersion, restart: restart, suppliedProfiles: profiles)
        runner.coordinator = coordinator
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
