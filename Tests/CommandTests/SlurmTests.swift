import Foundation
import Storage
import Testing
import TestSupport

/// Whether the Slurm tests run: always when scripts/run-tests.sh started a cluster, else when one answers.
enum SlurmCluster {
    static let required = ProcessInfo.processInfo.environment["COCOFL_SLURM_TESTS"] == "1"

    static func answers() -> Bool {
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/sinfo") else { return false }
        return (try? Tool.run(["-h", "-o", "%T"], executable: URL(fileURLWithPath: "/usr/bin/sinfo")))
            .map { $0.status == 0 && !$0.output.isEmpty } ?? false
    }
}

/// `cocofl campaign --slurm` against a real Slurm cluster: the local one of scripts/local-slurm.sh, which
/// scripts/run-tests.sh starts when it runs as root (and then sets COCOFL_SLURM_TESTS=1, so that a cluster that did
/// not come up fails these tests instead of skipping them).
@Suite("Slurm job arrays", .heavy, .serialized,
       .enabled(if: SlurmCluster.required || SlurmCluster.answers(),
                "no Slurm cluster answers sinfo here; start one with bash scripts/local-slurm.sh start (as root)"))
struct SlurmTests {
    @Test("A 4-run campaign submitted as a job array: every run's file complete, equal to a local run; resubmitting skips them")
    func arrayCampaign() throws {
        let directory = try TemporaryDirectory()
        let campaign = try directory.write("c.toml", WorkersTests.fourRuns())
        let out = directory.path("slurm.h5")

        let dry = try Tool.run(["campaign", campaign, "--out", out, "--slurm", "--dry-run"])
        #expect(dry.status == 0, "\(dry.error)")
        #expect(dry.output.contains("#SBATCH --array=0-3") && dry.output.contains("#SBATCH --cpus-per-task=1"), "\(dry.output)")
        for name in WorkersTests.runNames { #expect(dry.output.contains("'\(name)'"), "\(dry.output)") }
        #expect(!FileManager.default.fileExists(atPath: ResultsFile.runFolder(of: out) + "/slurm/array.sh"), "a dry run submits nothing")

        // The 1-thread local run to compare with (shared with WorkersTests) runs while the array does.
        WorkersTests.startReference()
        let submitted = try Tool.run(["campaign", campaign, "--out", out, "--slurm"])
        #expect(submitted.status == 0, "\(submitted.error)")
        let job = submitted.output.trimmingCharacters(in: .whitespacesAndNewlines)
        try #require(!job.isEmpty && job.allSatisfy(\.isNumber), "the job id on standard output: \(submitted.output)")

        // Outputs, not exit codes: a misconfigured Slurm reports COMPLETED for tasks that never ran.
        var status = ""
        for _ in 0..<300 {
            status = try Tool.run(["campaign", campaign, "--out", out, "--status"]).output
            if status.contains("4 runs: 4 complete") { break }
            usleep(500_000)
        }
        try #require(status.contains("4 runs: 4 complete"), "\(status)")

        let local = try WorkersTests.reference()
        let (fromSlurm, fromHere) = (try WorkersTests.contents(of: out), try WorkersTests.contents(of: local))
        for (task, name) in WorkersTests.runNames.enumerated() {
            #expect(FileManager.default.fileExists(atPath: ResultsFile.runFilePath(of: out, run: name)))
            #expect(fromSlurm[name]?.0["round"] == [1, 2], "\(name)")
            #expect(fromSlurm[name]?.0 == fromHere[name]?.0 && fromSlurm[name]?.1 == fromHere[name]?.1,
                    "\(name): the task (1 CPU) and a 1-thread local run agree bit for bit")
            let log = ResultsFile.runFolder(of: out) + "/slurm/\(job)_\(task).out"
            #expect(((try? String(contentsOfFile: log, encoding: .utf8)) ?? "").contains("\(name): complete"), "task log \(log)")
        }

        let again = try Tool.run(["campaign", campaign, "--out", out, "--slurm"])
        #expect(again.status == 0 && again.output.isEmpty, "\(again.output)")
        #expect(again.error.contains("all 4 runs of \(campaign) are complete"), "\(again.error)")
    }
}
