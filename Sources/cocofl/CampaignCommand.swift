import ArgumentParser
import Experiments
import Foundation
import Platform
import Plugins
import Storage

/// `cocofl campaign`: every run of a campaign file into one results file.
struct CampaignCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "campaign",
        abstract: "Run a comparison campaign (a TOML grid of runs) into one HDF5 results file.",
        discussion: """
            Runs every combination of the file's [grid] (see docs/campaigns.md) one after another and records each \
            into --out as it goes (metrics after every round, checkpoints every checkpoint_every rounds). Running \
            the same command again skips complete runs and resumes interrupted or failed ones from their newest \
            checkpoint; --restart runs this campaign's runs again from round 0. A run that fails is recorded as \
            failed and the campaign goes on; the exit status is non-zero if any run failed. Ends with the \
            comparison table of cocofl inspect.
            """)

    @Argument(help: "The campaign file (.toml).")
    var file: String

    @OptionGroup var plugins: PluginOptions

    @Option(help: "The results file (default: results/<campaign file name>.h5).")
    var out: String?

    @Flag(help: "Run this campaign's runs again from round 0, replacing them in --out.")
    var restart = false

    @Flag(help: "Plain progress lines even on a terminal.")
    var plain = false

    func run() throws {
        let campaign = try Campaign.load(path: file)
        let output = out ?? "results/" + URL(fileURLWithPath: file).deletingPathExtension().lastPathComponent + ".h5"
        // The file's plugins come after --plugin ones; a library named in both is loaded once.
        let catalog = try plugins.strategies(adding: campaign.plugins).catalog
        var datasets = DatasetCatalog.standard
        try datasets.register(HDF5DatasetLoader())
        let runner = CampaignRunner(runs: campaign.runs, catalog: catalog, datasets: datasets, toolVersion: toolVersion, restart: restart)
        let display = ProgressDisplay(interactive: !plain && isatty(STDERR_FILENO) == 1)
        // Everything checkable is checked before the results file is created or opened.
        try runner.validate { display.line($0) }
        try checkOutputDirectory(output)
        let results = try ResultsFile(path: output, access: .createOrAppend(toolVersion: toolVersion))
        try runner.plan(results: results)
        let pending = runner.starts.filter { $0 != .skip }.count
        display.line("campaign \(file): \(campaign.runs.count) runs (\(pending) to run, \(campaign.runs.count - pending) complete) into \(output)")
        let start = Date()
        let signals = StopSignals()
        runner.stopRequested = { signals.requested }
        let outcome: CampaignOutcome
        do {
            outcome = try runner.run(into: results) { display.show($0) }
        } catch let error as ResultsWriteError {
            // HDF5 cannot close a file whose cache failed to flush (it crashes trying); leave at once, as kill -9
            // would: what was flushed before the failure is what the file keeps.
            display.line("Error: \(error)")
            _exit(1)
        }
        if let exitStatus = signals.exitStatus {
            let resume = "cocofl campaign \(file)" + (out.map { " --out \($0)" } ?? "")
            display.line((outcome.interrupted.map { "interrupted: \($0.run) stopped after round \($0.afterRound), checkpointed in \(output)" }
                          ?? "interrupted before the next run started")
                         + "; resume with: \(resume)")
            throw ExitCode(exitStatus)
        }
        display.line(String(format: "campaign finished in %@: %d run, %d skipped, %d failed",
                            ProgressDisplay.duration(Date().timeIntervalSince(start)), outcome.completed.count,
                            outcome.skipped.count, outcome.failed.count))
        print(InspectCommand.text(try results.comparisonTable()))
        if !outcome.failed.isEmpty {
            throw CampaignFailure(description: "\(outcome.failed.count) of \(campaign.runs.count) runs failed ("
                                  + outcome.failed.keys.sorted().joined(separator: ", ")
                                  + "); their messages are in the table above and in \(output). Fix the cause and run the same command again to resume them")
        }
    }

    /// A missing output directory is an error naming it, before anything is measured.
    private func checkOutputDirectory(_ output: String) throws {
        let directory = URL(fileURLWithPath: output).deletingLastPathComponent().path
        var isDirectory: ObjCBool = false
        if !FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory) {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        } else if !isDirectory.boolValue {
            throw CampaignFailure(description: "cannot write \(output): '\(directory)' is not a directory; pass another --out")
        }
        guard FileManager.default.isWritableFile(atPath: directory) else {
            throw CampaignFailure(description: "cannot write \(output): the directory '\(directory)' is not writable; pass another --out")
        }
    }
}

/// The campaign's overall failure, after every run was tried.
struct CampaignFailure: Error, CustomStringConvertible {
    let description: String
}

/// Progress on standard error: one line rewritten in place on a terminal, plain lines otherwise (logs, pipes, CI).
final class ProgressDisplay {
    private let interactive: Bool
    private var statusShown = false

    init(interactive: Bool) { self.interactive = interactive }

    /// A line that stays.
    func line(_ text: String) {
        clearStatus()
        standardError(text)
    }

    /// Reports one campaign event.
    func show(_ event: CampaignEvent) {
        switch event {
        case .skipped(let index, let total, let name):
            line("[\(index)/\(total)] \(name): already complete, skipped")
        case .starting(let index, let total, let name, let resumed):
            line("[\(index)/\(total)] \(name): " + (resumed.map { $0 > 0 ? "resuming after round \($0)" : "restarting (no checkpoint yet)" } ?? "starting"))
        case .message(let text):
            line(text)
        case .round(let index, let total, let name, let metrics, let rounds, let remaining):
            var text = "[\(index)/\(total)] \(name): round \(metrics.round)/\(rounds)"
            if let evaluation = metrics.evaluation { text += String(format: "  accuracy %.1f %%", 100 * evaluation.accuracy) }
            text += String(format: "  %.1f s/round", metrics.seconds)
            if let remaining { text += "  ETA " + Self.duration(remaining) }
            if interactive {
                FileHandle.standardError.write(Data(("\r\u{1B}[K" + text).utf8))
                statusShown = true
            } else if metrics.evaluation != nil || metrics.round == rounds {
                standardError(text)
            }
        case .finished(let index, let total, let name, let status, let message):
            line("[\(index)/\(total)] \(name): \(status.rawValue)" + (message.isEmpty ? "" : ": \(message)"))
        }
    }

    private func clearStatus() {
        if statusShown { FileHandle.standardError.write(Data("\r\u{1B}[K".utf8)) }
        statusShown = false
    }

    /// "1 h 05 min", "12 min 03 s", "42 s".
    static func duration(_ seconds: Double) -> String {
        let total = Int(seconds.rounded())
        if total >= 3600 { return String(format: "%d h %02d min", total / 3600, total % 3600 / 60) }
        if total >= 60 { return String(format: "%d min %02d s", total / 60, total % 60) }
        return "\(total) s"
    }
}
