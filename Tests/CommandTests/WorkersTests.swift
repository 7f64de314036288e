import CoCoFLCore
import Foundation
import NN
import Storage
import Testing
import TestSupport

/// `cocofl campaign --workers N`: one process per run, the cores split between them, results as with one process.
@Suite("Workers", .heavy, .serialized)
struct WorkersTests {
    /// Four fedavg runs (two α × two seeds): fedavg never reads the profile, so runs compare bit for bit.
    static func fourRuns(rounds: Int = 2) -> String {
        ReliabilityTests.fedavgCampaign(rounds: rounds)
            .replacingOccurrences(of: "alphas = [0.5]", with: "alphas = [0.5, 1.0]")
            .replacingOccurrences(of: "seeds = [4]", with: "seeds = [4, 5]")
    }

    /// The four runs in one process at 1 thread (the thread count oneDNN's sums depend on): the reference the
    /// workers and Slurm tests compare with, shared between them.
    static func startReference() { ReferenceCampaigns.start(fourRuns(), environment: ["OMP_NUM_THREADS": "1"]) }
    static func reference() throws -> String {
        try ReferenceCampaigns.run(fourRuns(), environment: ["OMP_NUM_THREADS": "1"]).path
    }

    static let runNames = ["fedavg-fashion-mnist-resnet8-a0.5-s4", "fedavg-fashion-mnist-resnet8-a0.5-s5",
                           "fedavg-fashion-mnist-resnet8-a1.0-s4", "fedavg-fashion-mnist-resnet8-a1.0-s5"]

    /// Every compared metric column and the final checkpoint of each run.
    static func contents(of path: String) throws -> [String: ([String: [Double]], [NamedArray])] {
        let results = try ResultsFile(path: path, access: .readOnly)
        var contents: [String: ([String: [Double]], [NamedArray])] = [:]
        for name in try results.runNames() {
            let record = try results.openRun(name)
            #expect(try record.summary().status == .complete, "\(name)")
            let metrics = try record.metrics().filter { ReliabilityTests.compared.contains($0.key) || $0.key == "round" }
            contents[name] = (metrics, try record.latestCheckpoint()?.parameters ?? [])
        }
        return contents
    }

    @Test("--workers 2 gives every run's metrics and final checkpoint bit for bit as --workers 1, one file per run")
    func sameResultsAsOneProcess() throws {
        let directory = try TemporaryDirectory()
        let campaign = try directory.write("c.toml", Self.fourRuns())
        let two = directory.path("two.h5")
        // The same thread count per run in both (oneDNN's reductions depend on it): 1 thread each. The 1-process
        // reference runs alongside the two 1-thread workers.
        Self.startReference()
        let parallel = try Tool.run(["campaign", campaign, "--out", two, "--plain", "--workers", "2"], environment: ["OMP_NUM_THREADS": "2"])
        let one = try Self.reference()
        #expect(parallel.status == 0, "\(parallel.error)")
        #expect(parallel.error.contains("2 worker processes with 1 thread each"), "\(parallel.error)")
        for name in Self.runNames { #expect(parallel.error.contains("\(name): complete"), "\(parallel.error)") }
        #expect(parallel.output.contains("fedavg-fashion-mnist-resnet8-a1.0-s5"), "the comparison table: \(parallel.output)")

        let (reference, workers) = (try Self.contents(of: one), try Self.contents(of: two))
        #expect(reference.keys.sorted() == Self.runNames && workers.keys.sorted() == Self.runNames)
        for name in Self.runNames {
            #expect(workers[name]?.0 == reference[name]?.0, "metrics of \(name)")
            #expect(workers[name]?.1 == reference[name]?.1 && reference[name]?.1.isEmpty == false, "checkpoint of \(name)")
            #expect(FileManager.default.fileExists(atPath: ResultsFile.runFilePath(of: two, run: name)))
        }
        let again = try Tool.run(["campaign", campaign, "--out", two, "--plain", "--workers", "2"], environment: ["OMP_NUM_THREADS": "2"])
        #expect(again.status == 0 && again.error.contains("(0 to run, 4 complete)"), "\(again.error)")

        // pack: one self-contained file, the same contents without the run files.
        let packed = directory.path("packed.h5")
        let pack = try Tool.run(["pack", two, "--out", packed])
        #expect(pack.status == 0 && pack.output.contains("wrote \(packed): 4 runs"), "\(pack.output)\(pack.error)")
        try FileManager.default.removeItem(atPath: ResultsFile.runFolder(of: two))
        let copy = try Self.contents(of: packed)
        for name in Self.runNames {
            #expect(copy[name]?.0 == reference[name]?.0 && copy[name]?.1 == reference[name]?.1, "packed \(name)")
        }
        let refused = try Tool.run(["pack", two, "--out", packed])
        expectOneLineError(refused, mentioning: ["already exists"])
    }

    @Test("kill -9 of a worker records its run failed with SIGKILL; of the parent, the workers checkpoint and stop; each resumes")
    func killedWorkerAndParent() throws {
        let directory = try TemporaryDirectory()
        // Enough rounds that both running runs are still going when they have passed round 3 (the kill below), and
        // that the run left to resume is still going when its parent is killed.
        let rounds = 6
        let campaign = try directory.write("c.toml", Self.fourRuns(rounds: rounds))
        let out = directory.path("k.h5")
        let environment = ["OMP_NUM_THREADS": "2"]

        // A worker killed: its run is failed with the signal named, the other runs go on.
        let launched = try Tool.launch(["campaign", campaign, "--out", out, "--plain", "--workers", "2"], environment: environment)
        // Both running runs past round 2, so whichever worker is killed has checkpointed (checkpoint_every = 2):
        // killed earlier, its run restarts from round 0 and the resume below has nothing to resume.
        let started = Self.runNames.prefix(2).map { "\($0): round 3/\(rounds)" }
        let seen = launched.readError(untilAll: started)
        try #require(started.allSatisfy(seen.contains), "\(seen)")
        let victim = try #require(Self.workerPIDs(of: launched.process.processIdentifier).first)
        kill(victim, SIGKILL)
        let rest = String(decoding: launched.errorPipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        launched.process.waitUntilExit()
        #expect(launched.process.terminationStatus == 1, "\(rest)")
        #expect(rest.contains("failed: its worker process \(victim) was killed by signal 9 (SIGKILL)"), "\(rest)")
        let afterWorker = try ResultsFile(path: out, access: .readOnly).runs()
        #expect(afterWorker.filter { $0.status == .failed }.count == 1 && afterWorker.filter { $0.status == .complete }.count == 3,
                "\(afterWorker)")

        // The parent killed: its workers notice, checkpoint their last round and stop as interrupted.
        let resumed = try Tool.launch(["campaign", campaign, "--out", out, "--plain", "--workers", "2"], environment: environment)
        let resuming = resumed.readError(until: "round")
        try #require(resuming.contains("resuming after round"), "\(resuming)")
        let workers = Self.workerPIDs(of: resumed.process.processIdentifier)
        #expect(workers.count == 1, "the one run left still gets a worker process of its own")
        kill(resumed.process.processIdentifier, SIGKILL)
        resumed.process.waitUntilExit()
        for worker in workers { Self.waitUntilGone(worker) }
        let afterParent = try ResultsFile(path: out, access: .readOnly).runs()
        let stopped = try #require(afterParent.first { $0.status != .complete }, "\(afterParent)")
        #expect(stopped.status == .interrupted || stopped.status == .complete, "\(afterParent)")

        let finished = try Tool.run(["campaign", campaign, "--out", out, "--plain", "--workers", "2"], environment: environment)
        #expect(finished.status == 0, "\(finished.error)")
        let final = try ResultsFile(path: out, access: .readOnly)
        for name in Self.runNames {
            let record = try final.openRun(name)
            #expect(try record.summary().status == .complete)
            #expect(try record.metrics()["round"] == (1...rounds).map(Double.init), "\(name) has every round once")
        }
    }

    /// The worker processes (children) of `parent`, from /proc; waits up to 10 s for the first one.
    static func workerPIDs(of parent: Int32) -> [Int32] {
        for _ in 0..<100 {
            let children = (try? String(contentsOfFile: "/proc/\(parent)/task/\(parent)/children", encoding: .utf8)) ?? ""
            let pids = children.split(separator: " ").compactMap { Int32($0) }
            if !pids.isEmpty { return pids }
            usleep(100_000)
        }
        return []
    }

    /// Waits up to 60 s for a process (not our child) to end.
    static func waitUntilGone(_ pid: Int32) {
        for _ in 0..<600 where kill(pid, 0) == 0 { usleep(100_000) }
    }
}
