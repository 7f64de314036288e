import Foundation

/// A campaign as a Slurm job array: one array task per run still to do, each running
/// `cocofl campaign FILE --out OUT --only RUN` on the cores Slurm gives it. The tasks write their runs' files and
/// the campaign file links them (docs/scaling.md), so nothing has to be gathered afterwards.
public struct SlurmArray: Sendable {
    /// `--job-name`.
    public var jobName: String
    /// The runs, in array-task order (task i runs `runs[i]`).
    public var runs: [String]
    /// The command before `--only RUN`: the cocofl binary and its arguments.
    public var command: [String]
    /// `--cpus-per-task`; each task computes with this many threads (OMP_NUM_THREADS).
    public var cpusPerTask: Int
    /// `--partition`, or the cluster's default.
    public var partition: String?
    /// `--time` (e.g. "2:00:00"), or the partition's default.
    public var time: String?
    /// Where each task's standard output and error go (`<job>_<task>.out`).
    public var logDirectory: String

    public init(jobName: String, runs: [String], command: [String], cpusPerTask: Int, partition: String?, time: String?,
                logDirectory: String) {
        self.jobName = jobName
        self.runs = runs
        self.command = command
        self.cpusPerTask = cpusPerTask
        self.partition = partition
        self.time = time
        self.logDirectory = logDirectory
    }

    /// The sbatch script.
    public func script() -> String {
        var lines = ["#!/bin/bash", "# A cocofl campaign as a Slurm job array: one task per run (docs/scaling.md).",
                     "#SBATCH --job-name=\(jobName)", "#SBATCH --array=0-\(runs.count - 1)",
                     "#SBATCH --cpus-per-task=\(cpusPerTask)", "#SBATCH --ntasks=1",
                     "#SBATCH --output=\(logDirectory)/%A_%a.out"]
        if let partition { lines.append("#SBATCH --partition=\(partition)") }
        if let time { lines.append("#SBATCH --time=\(time)") }
        lines += ["set -euo pipefail",
                  "runs=(" + runs.map(Self.quoted).joined(separator: " ") + ")",
                  "# The task's threads: the cores Slurm gave it (task/affinity pins the task to them).",
                  "export OMP_NUM_THREADS=\"${SLURM_CPUS_PER_TASK:-\(cpusPerTask)}\"",
                  "exec " + command.map(Self.quoted).joined(separator: " ") + " --only \"${runs[$SLURM_ARRAY_TASK_ID]}\""]
        return lines.joined(separator: "\n") + "\n"
    }

    /// Submits the script at `path` with `sbatch --parsable`; returns the job id.
    public static func submit(scriptPath path: String) throws -> String {
        let process = Process()
        guard let sbatch = executable("sbatch") else {
            throw SlurmError("sbatch is not on PATH: submit from a Slurm login node (or start a local cluster with "
                             + "bash scripts/local-slurm.sh start); --dry-run prints the script without submitting")
        }
        process.executableURL = sbatch
        process.arguments = ["--parsable", path]
        let (output, error) = (Pipe(), Pipe())
        process.standardOutput = output
        process.standardError = error
        try process.run()
        let printed = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        let complaint = String(decoding: error.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        let job = printed.split(separator: ";").first.map { $0.trimmingCharacters(in: .whitespacesAndNewlines) } ?? ""
        guard process.terminationStatus == 0, !job.isEmpty, job.allSatisfy(\.isNumber) else {
            throw SlurmError("sbatch \(path) failed (exit \(process.terminationStatus)): "
                             + complaint.split(whereSeparator: \.isNewline).joined(separator: " "))
        }
        return job
    }

    /// `name` on PATH.
    static func executable(_ name: String) -> URL? {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        return path.split(separator: ":").map { URL(fileURLWithPath: String($0)).appendingPathComponent(name) }
            .first { FileManager.default.isExecutableFile(atPath: $0.path) }
    }

    /// `text` as one shell word.
    static func quoted(_ text: String) -> String {
        "'" + text.replacingOccurrences(of: "'", with: "'\\''") + "'"
    }
}

/// Submitting to Slurm failed.
public struct SlurmError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}
