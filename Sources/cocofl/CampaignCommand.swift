import CoCoFLCore
import ArgumentParser
import Experiments
import Foundation
import NN
import Platform
import Ranks
import Strategies
import Storage

/// `cocofl campaign`: every run of a campaign file into one results file.
struct CampaignCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "campaign",
        abstract: "Run a comparison campaign (a TOML grid of runs) into one HDF5 results file.",
        discussion: """
            Runs every combination of the file's [grid] (see docs/campaigns.md) and records each into its own file \
            NAME.runs/<run>.h5, linked from --out NAME.h5, as it goes (metrics after every round, checkpoints every \
            checkpoint_every rounds); every file can be read while the campaign runs. --workers N runs N runs at \
            once in child processes; --slurm submits them as a Slurm job array instead (docs/scaling.md). Running \
            the same command again skips complete runs and resumes interrupted or failed ones from their newest \
            checkpoint; --restart runs this campaign's runs again from round 0. A run that fails is recorded as \
            failed and the campaign goes on; the exit status is non-zero if any run failed. Ends with the \
            comparison table of cocofl inspect.
            """)

    @Argument(help: "The campaign file (.toml).")
    var file: String

    @OptionGroup var plugins: PluginOptions

    @Option(help: "The results file (default: results/<campaign file name>.h5); each run writes its own file in <name>.runs/ next to it.")
    var out: String?

    @Flag(help: "Run this campaign's runs again from round 0, replacing them in --out.")
    var restart = false

    @Flag(help: "Plain progress lines even on a terminal.")
    var plain = false

    @Option(help: ArgumentHelp(
        "Run processes working at once, one run each, with the cores split between them; auto: one per core, fewer when runs or memory are short (docs/scaling.md).",
        valueName: "N|auto"))
    var workers = "1"

    @Option(help: "Threads of each worker process (default: the cores, or OMP_NUM_THREADS, divided by --workers).")
    var threads: Int?

    @Option(help: ArgumentHelp("Run only this run of the campaign (repeatable), e.g. as one Slurm array task.", valueName: "run"))
    var only: [String] = []

    @Flag(help: "Submit the runs still to do as a Slurm job array (one task per run) instead of running them here; prints the job id.")
    var slurm = false

    @Option(help: "With --slurm: the partition (default: the cluster's).")
    var partition: String?

    @Option(help: ArgumentHelp("With --slurm: each task's time limit, e.g. 2:00:00 (default: the partition's); a task stopped by it resumes from its checkpoint when submitted again.", valueName: "T"))
    var time: String?

    @Option(help: "With --slurm: CPUs (and threads) of each task.")
    var cpusPerTask = 1

    @Flag(help: "With --slurm: print the sbatch script instead of submitting it.")
    var dryRun = false

    @OptionGroup var profiles: SuppliedProfiles

    @Flag(help: "Report where every run of the campaign stands (complete, running and by whom, failed, not started) and exit.")
    var status = false

    /// Set by a parent for its worker processes: events as JSON lines on standard output, profiles on standard input.
    @Flag(help: .hidden)
    var worker = false

    func run() throws {
        do {
            try runCommand()
        } catch {
            throw commandLineError(error)
        }
    }

    private func runCommand() throws {
        let campaign = try Campaign.load(path: file)
        let output = out ?? "results/" + URL(fileURLWithPath: file).deletingPathExtension().lastPathComponent + ".h5"
        let runs = try selectedRuns(campaign.runs)
        // The file's plugins come after --plugin ones; a library named in both is loaded once.
        let catalog = try plugins.strategies(adding: campaign.plugins).catalog
        var datasets = DatasetCatalog.standard
        try datasets.register(HDF5DatasetLoader())
        if worker {
            try runAsWorker(runs, output: output, catalog: catalog, datasets: datasets)
            return
        }
        if status {
            try reportStatus(runs, output: output)
            return
        }
        let supplied = try profiles.load()
        // Under mpirun: ranks other than 0 follow rank 0's runs and never return from here.
        if let job = try RankJob.start() {
            guard workers == "1", !slurm else {
                throw CommandLineError(description: "--workers and --slurm cannot be combined with MPI ranks (mpirun): the ranks "
                                       + "already share each round's devices; drop the option, or run without mpirun")
            }
            if !job.world.isRoot { job.follow(catalog: catalog, datasets: datasets) }
            try job.lead { leader in
                try runCampaign(runs, output: output, catalog: catalog, datasets: datasets, profiles: supplied, coordinator: leader)
            }
            return
        }
        try runCampaign(runs, output: output, catalog: catalog, datasets: datasets, profiles: supplied, coordinator: nil)
    }

    /// Runs (or submits) the campaign's runs in this process, in worker processes or as a Slurm array.
    private func runCampaign(_ runs: [CampaignRun], output: String, catalog: StrategyCatalog, datasets: DatasetCatalog,
                             profiles: [ModelProfile], coordinator: RankLeader?) throws {
        let runner = CampaignRunner(runs: runs, catalog: catalog, datasets: datasets, toolVersion: toolVersion, restart: restart,
                                    suppliedProfiles: profiles, writesProfileTables: only.isEmpty)
        runner.coordinator = coordinator
        let display = ProgressDisplay(interactive: !plain && isatty(STDERR_FILENO) == 1)
        // Everything checkable is checked before the results file is created or opened.
        let processes = try requestedWorkers(runs: runs.count)
        try runner.validate { display.line($0) }
        try checkOutputDirectory(output)
        try runner.plan(campaignFile: output)
        let pending = runner.starts.filter { $0 != .skip }.count
        if slurm {
            try submitToSlurm(runner, runs: runs, output: output, display: display)
            return
        }
        // With --workers above 1 every run gets a process of its own (a crash takes only that run down), even when
        // fewer runs than workers are left; the cores are split between the processes that will run at once.
        let workerCount = processes > 1 ? max(1, min(processes, pending)) : 0
        let workerThreads = threads ?? max(1, ComputeThreads.count / max(workerCount, 1))
        display.line("campaign \(file): \(runs.count) runs (\(pending) to run, \(runs.count - pending) complete) into \(output)"
                     + (workerCount > 0 ? ", \(workerCount) worker process\(workerCount == 1 ? "" : "es") with \(workerThreads) thread\(workerThreads == 1 ? "" : "s") each" : ""))
        let start = Date()
        let signals = StopSignals()
        let outcome: CampaignOutcome
        do {
            if workerCount > 0 {
                outcome = try runWithWorkers(runner, runs: runs, output: output, workers: workerCount, threads: workerThreads,
                                             signals: signals, display: display)
            } else {
                runner.stopRequested = { signals.requested }
                outcome = try runner.run(campaignFile: output) { display.show($0) }
            }
        } catch let error as ResultsWriteError {
            // HDF5 cannot close a file whose cache failed to flush (it crashes trying); leave at once, as kill -9
            // would: what was flushed before the failure is what the file keeps.
            display.line("Error: \(error)")
            _exit(1)
        }
        if let exitStatus = signals.exitStatus {
            let resume = "cocofl campaign \(file)" + (out.map { " --out \($0)" } ?? "") + (workers == "1" ? "" : " --workers \(workers)")
            display.line((outcome.interrupted.map { "interrupted: \($0.run) stopped after round \($0.afterRound), checkpointed in \(output)" }
                          ?? "interrupted before the next run started")
                         + "; resume with: \(resume)")
            throw ExitCode(exitStatus)
        }
        display.line(String(format: "campaign finished in %@: %d run, %d skipped, %d failed",
                            ProgressDisplay.duration(Date().timeIntervalSince(start)), outcome.completed.count,
                            outcome.skipped.count, outcome.failed.count))
        print(InspectCommand.text(try ResultsFile(path: output, access: .readOnly).comparisonTable()))
        if !outcome.failed.isEmpty {
            throw CampaignFailure(description: "\(outcome.failed.count) of \(runs.count) runs failed ("
                                  + outcome.failed.keys.sorted().joined(separator: ", ")
                                  + "); their messages are in the table above and in \(output). Fix the cause and run the same command again to resume them")
        }
    }

    /// The campaign's runs, or those named by --only (in the campaign's order).
    private func selectedRuns(_ runs: [CampaignRun]) throws -> [CampaignRun] {
        guard !only.isEmpty else { return runs }
        let names = Set(runs.map(\.name))
        if let unknown = only.first(where: { !names.contains($0) }) {
            throw ValidationError("--only \(unknown): the campaign \(file) has no such run; its runs are "
                                  + runs.map(\.name).joined(separator: ", "))
        }
        return runs.filter { only.contains($0.name) }
    }

    /// --workers as a number of processes (before runs that are complete are left out); checks --threads.
    private func requestedWorkers(runs: Int) throws -> Int {
        if let threads, threads < 1 { throw ValidationError("--threads \(threads): give 1 or more threads per worker") }
        if workers == "auto" {
            // One process per core: never slower than one process on both cores here (resnet8 main job 1.04–1.10×,
            // docs/scaling.md) and a crash takes one run down; at most one per 2 GiB of memory (the largest model's
            // run peaks at 1.6 GB).
            let memoryBound = Int(ProcessInfo.processInfo.physicalMemory / (2 << 30))
            return max(1, min(ComputeThreads.count, runs, memoryBound))
        }
        guard let count = Int(workers), count >= 1 else {
            throw ValidationError("--workers \(workers): give a whole number of processes (1 or more) or auto")
        }
        return count
    }

    /// --status: the comparison table of what the runs (here or in Slurm tasks) wrote so far, and a count.
    private func reportStatus(_ runs: [CampaignRun], output: String) throws {
        guard FileManager.default.fileExists(atPath: output) else {
            print("\(output) does not exist yet: none of the campaign's \(runs.count) runs has started")
            return
        }
        let results = try ResultsFile(path: output, access: .readOnly)
        let table = try results.comparisonTable()
        if !table.runs.isEmpty { print(InspectCommand.text(table)) }
        let rows = Dictionary(table.runs.map { ($0.run, $0) }, uniquingKeysWith: { first, _ in first })
        var counts: [String: Int] = [:]
        for run in runs {
            let state: String
            if let row = rows[run.name] {
                state = row.status == "running" ? (try results.liveWriter(ofRun: run.name) != nil ? "running" : "stopped") : row.status
            } else {
                state = "not started"
            }
            counts[state, default: 0] += 1
        }
        let order = ["complete", "running", "interrupted", "stopped", "failed", "not started"]
        print("\(file): \(runs.count) runs: " + order.compactMap { key in counts[key].map { "\($0) \(key)" } }.joined(separator: ", "))
    }

    /// --slurm: the runs still to do as one job array; prints (or, with --dry-run, shows) the sbatch script.
    private func submitToSlurm(_ runner: CampaignRunner, runs: [CampaignRun], output: String, display: ProgressDisplay) throws {
        let todo = zip(runs, runner.starts).filter { $0.1 != .skip }.map(\.0.name)
        guard !todo.isEmpty else {
            display.line("all \(runs.count) runs of \(file) are complete in \(output); nothing to submit")
            return
        }
        guard cpusPerTask >= 1 else { throw ValidationError("--cpus-per-task \(cpusPerTask): give 1 or more") }
        let executable = try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")
        let outputPath = URL(fileURLWithPath: output).standardizedFileURL.path
        let folder = ResultsFile.runFolder(of: outputPath) + "/slurm"
        let array = SlurmArray(
            jobName: "cocofl-" + URL(fileURLWithPath: file).deletingPathExtension().lastPathComponent, runs: todo,
            command: [executable, "campaign", URL(fileURLWithPath: file).standardizedFileURL.path, "--out", outputPath, "--plain"]
                + plugins.paths.flatMap { ["--plugin", URL(fileURLWithPath: $0).standardizedFileURL.path] },
            cpusPerTask: cpusPerTask, partition: partition, time: time, logDirectory: folder)
        if dryRun {
            print(array.script(), terminator: "")
            return
        }
        // Linked before submitting: the tasks then only write their own run files, never the campaign file.
        try runner.prepareRunFiles()
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let script = folder + "/array.sh"
        try array.script().write(toFile: script, atomically: true, encoding: .utf8)
        let job = try SlurmArray.submit(scriptPath: script)
        display.line("submitted Slurm job \(job): \(todo.count) array task\(todo.count == 1 ? "" : "s") (one per run), "
                     + "\(cpusPerTask) CPU\(cpusPerTask == 1 ? "" : "s") each; script \(script), logs \(folder)/\(job)_<task>.out; "
                     + "follow with: cocofl campaign \(file)\(out.map { " --out \($0)" } ?? "") --status")
        print(job)
    }

    /// The parent's part with worker processes: profiles measured once here, runs linked to their files, then one
    /// child process per run, `workers` at a time.
    private func runWithWorkers(_ runner: CampaignRunner, runs: [CampaignRun], output: String, workers: Int, threads: Int,
                                signals: StopSignals, display: ProgressDisplay) throws -> CampaignOutcome {
        try runner.acquireProfiles { display.show($0) }
        try runner.prepareRunFiles()
        let profiles = try WorkerProtocol.encodeProfiles(runner.knownProfiles)
        let executable = URL(fileURLWithPath: try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe"))
        let campaignPath = URL(fileURLWithPath: file).standardizedFileURL.path
        let outputPath = URL(fileURLWithPath: output).standardizedFileURL.path
        let pluginArguments = plugins.paths.flatMap { ["--plugin", URL(fileURLWithPath: $0).standardizedFileURL.path] }
        let pool = CampaignWorkers(runs: runs, starts: runner.starts, campaignFile: output, workers: workers, toolVersion: toolVersion) { run in
            WorkerLaunch(executable: executable,
                         arguments: ["campaign", campaignPath, "--out", outputPath, "--only", run.name, "--worker"] + pluginArguments,
                         environment: ["OMP_NUM_THREADS": String(threads)], input: profiles)
        }
        pool.stopRequested = { signals.requested }
        return try pool.run { display.show($0) }
    }

    /// A worker process: the runs given by --only (one, from a parent), its events as JSON lines on standard
    /// output. It stops like on SIGTERM when its parent goes away (kill -9 of the parent included).
    private func runAsWorker(_ runs: [CampaignRun], output: String, catalog: StrategyCatalog, datasets: DatasetCatalog) throws {
        // A process group of its own: a terminal's Ctrl-C reaches the parent only, which stops each worker once.
        setpgid(0, 0)
        // A parent that died leaves a broken pipe: writes then fail (ignored) instead of killing the worker before
        // it checkpoints.
        signal(SIGPIPE, SIG_IGN)
        let parent = getppid()
        let profiles = try WorkerProtocol.decodeProfiles(FileHandle.standardInput.readDataToEndOfFile())
        let runner = CampaignRunner(runs: runs, catalog: catalog, datasets: datasets, toolVersion: toolVersion, restart: false,
                                    profiles: profiles, writesProfileTables: false)
        let signals = StopSignals()
        runner.stopRequested = { signals.requested || getppid() != parent }
        try runner.validate()
        try runner.plan(campaignFile: output)
        let outcome: CampaignOutcome
        do {
            outcome = try runner.run(campaignFile: output) { event in
                if let line = try? WorkerProtocol.line(event) { try? FileHandle.standardOutput.write(contentsOf: Data((line + "\n").utf8)) }
            }
        } catch let error as ResultsWriteError {
            standardError("Error: \(error)")
            _exit(1)
        }
        if outcome.interrupted != nil { throw ExitCode(signals.exitStatus ?? 143) }
        if !outcome.failed.isEmpty { throw ExitCode(1) }
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
