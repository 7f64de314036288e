import CoCoFLCore
import Foundation
import NN
import Storage
import Testing
import TestSupport

/// OpenMPI's launcher, if installed.
let installedMPIRun: URL? = ["/usr/bin/mpirun", "/usr/local/bin/mpirun"].map(URL.init(fileURLWithPath:))
    .first { FileManager.default.isExecutableFile(atPath: $0.path) }

/// One run across MPI ranks (`mpirun -np 2 cocofl …`): the devices of each round are shared between the ranks and
/// the results are those of one process, bit for bit, at the same threads per device's training (1 here: oneDNN's
/// sums depend on it). Needs OpenMPI's mpirun (scripts/install-system-packages.sh installs it).
@Suite("MPI ranks", .heavy, .serialized, .enabled(if: installedMPIRun != nil, "OpenMPI's mpirun is not installed"))
struct RanksTests {
    static let mpirun = installedMPIRun

    /// The stored profile of the fixture campaign (resnet8, 1×28×28, batch 32, windows and sub-models), so that
    /// both invocations choose CoCoFL windows and sub-model widths from the same table.
    static let profile = SameResultsTests.folder.appendingPathComponent("profile.json").path
    /// 1 thread per rank; root allowed (CI runs as root). When a rank dies, the others are stuck in a collective
    /// and mpirun ends them with SIGTERM and, `odls_base_sigkill_timeout` seconds later (default 1; measured 2 s
    /// in all), SIGKILL: with 0 it does so at once, and the killed-rank test does not wait for nothing.
    static let environment = ["OMP_NUM_THREADS": "1", "OMPI_ALLOW_RUN_AS_ROOT": "1", "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM": "1",
                              "OMPI_MCA_odls_base_sigkill_timeout": "0"]

    static func campaign(rounds: Int, checkpointEvery: Int = 2) -> String {
        """
        [grid]
        strategies = ["fedavg", "cocofl", "heterofl"]
        alphas = [0.5]

        [run]
        rounds = \(rounds)
        devices = 10
        per_round = 4
        train_subset = 400
        test_subset = 100
        lr = 0.05
        eval_every = 1
        checkpoint_every = \(checkpointEvery)
        bn_eval = "reestimated"
        """
    }

    static let runs = ["cocofl-fashion-mnist-resnet8-a0.5-s1", "fedavg-fashion-mnist-resnet8-a0.5-s1", "heterofl-fashion-mnist-resnet8-a0.5-s1"]

    /// `cocofl arguments` on `ranks` MPI ranks.
    static func launchRanks(_ ranks: Int, _ arguments: [String]) throws -> Tool.Launched {
        try Tool.launch(["--oversubscribe", "-np", "\(ranks)", Tool.binary.path] + arguments,
                        executable: try #require(mpirun), environment: environment)
    }

    /// Every metric but wall-clock seconds, and every checkpoint's parameters, of each run.
    static func contents(_ path: String) throws -> [String: ([String: [Double]], [Int: [NamedArray]])] {
        let results = try ResultsFile(path: path, access: .readOnly)
        var contents: [String: ([String: [Double]], [Int: [NamedArray]])] = [:]
        for name in try results.runNames() {
            let record = try results.openRun(name)
            #expect(try record.summary().status == .complete, "\(name)")
            var checkpoints: [Int: [NamedArray]] = [:]
            for round in try record.checkpointRounds() { checkpoints[round] = try record.checkpoint(round: round).parameters }
            contents[name] = (try record.metrics().filter { $0.key != "seconds" }, checkpoints)
        }
        return contents
    }

    @Test("fedavg, cocofl and heterofl: 2 rounds on 2 ranks give the metrics and checkpoints of 1 process, bit for bit")
    func sameAsOneProcess() throws {
        let directory = try TemporaryDirectory()
        let campaign = try directory.write("c.toml", Self.campaign(rounds: 2, checkpointEvery: 1))
        let (one, two) = (directory.path("one.h5"), directory.path("two.h5"))
        // The 1-process reference runs alongside the ranks: three 1-thread processes share the cores (with 1 thread
        // no OpenMP pool spins, so they do not slow each other down beyond sharing).
        let reference = try Tool.launch(["campaign", campaign, "--out", one, "--plain", "--profile", Self.profile], environment: Self.environment)
        let ranks = try Tool.finish(try Self.launchRanks(2, ["campaign", campaign, "--out", two, "--plain", "--profile", Self.profile]))
        let single = try Tool.finish(reference)
        try #require(single.status == 0, "\(single.error)")
        try #require(ranks.status == 0, "\(ranks.error)")
        #expect(ranks.error.contains("MPI: 2 ranks"), "\(ranks.error)")
        let (expected, shared) = (try Self.contents(one), try Self.contents(two))
        #expect(expected.keys.sorted() == Self.runs && shared.keys.sorted() == Self.runs)
        for run in Self.runs {
            #expect(shared[run]?.0 == expected[run]?.0, "metrics of \(run)")
            #expect(shared[run]?.1 == expected[run]?.1 && expected[run]?.1.keys.sorted() == [1, 2], "checkpoints of \(run)")
        }
        // Every rank took part: each trained some of the 4 devices of every round (the heterofl run skips some).
        #expect(expected["fedavg-fashion-mnist-resnet8-a0.5-s1"]?.0["participants"] == [4, 4])
    }

    @Test("a rank killed mid-run ends the job non-zero with the rank named; the same command resumes to the same results")
    func killedRank() throws {
        let directory = try TemporaryDirectory()
        let campaign = try directory.write("k.toml", Self.campaign(rounds: 6).replacingOccurrences(of: "strategies = [\"fedavg\", \"cocofl\", \"heterofl\"]", with: "strategies = [\"fedavg\"]"))
        let out = directory.path("k.h5")
        // The uninterrupted 1-process reference runs alongside (1 thread, like each rank).
        let reference = directory.path("reference.h5")
        let uninterrupted = try Tool.launch(["campaign", campaign, "--out", reference, "--plain", "--profile", Self.profile],
                                            environment: Self.environment)
        let launched = try Self.launchRanks(2, ["campaign", campaign, "--out", out, "--plain", "--profile", Self.profile])
        let seen = launched.readError(until: "round 3/6")
        try #require(seen.contains("round 3/6"), "\(seen)")
        let rankOne = try #require(Self.rank(1, under: launched.process.processIdentifier), "no rank 1 among mpirun's children")
        kill(rankOne, SIGKILL)
        let killed = try Tool.finish(launched)
        #expect(killed.status != 0)
        #expect(killed.error.contains("rank 1"), "\(killed.error)")
        // Closed before the job resumes: a file this process keeps open would show it the state of now.
        let resumedFrom: Int = try {
            let stopped = try ResultsFile(path: out, access: .readOnly).openRun("fedavg-fashion-mnist-resnet8-a0.5-s1")
            #expect(try stopped.summary().status != .complete)
            return try stopped.latestCheckpointRound()
        }()
        #expect(resumedFrom >= 2)

        let resumed = try Tool.finish(try Self.launchRanks(2, ["campaign", campaign, "--out", out, "--plain", "--profile", Self.profile]))
        #expect(resumed.status == 0, "\(resumed.error)")
        #expect(resumed.error.contains("resuming after round \(resumedFrom)"), "\(resumed.error)")
        let single = try Tool.finish(uninterrupted)
        try #require(single.status == 0, "\(single.error)")
        let (expected, finished) = (try Self.contents(reference), try Self.contents(out))
        #expect(finished["fedavg-fashion-mnist-resnet8-a0.5-s1"]?.0 == expected["fedavg-fashion-mnist-resnet8-a0.5-s1"]?.0)
        #expect(finished["fedavg-fashion-mnist-resnet8-a0.5-s1"]?.1[6] == expected["fedavg-fashion-mnist-resnet8-a0.5-s1"]?.1[6])
    }

    /// The process of MPI rank `rank` among the descendants of `mpirun` (from its environment), waiting up to 10 s.
    static func rank(_ rank: Int, under mpirun: Int32) -> Int32? {
        for _ in 0..<100 {
            let children = (try? String(contentsOfFile: "/proc/\(mpirun)/task/\(mpirun)/children", encoding: .utf8)) ?? ""
            for pid in children.split(separator: " ").compactMap({ Int32($0) }) {
                let environment = (try? Data(contentsOf: URL(fileURLWithPath: "/proc/\(pid)/environ"))) ?? Data()
                let entries = environment.split(separator: 0).map { String(decoding: $0, as: UTF8.self) }
                if entries.contains("OMPI_COMM_WORLD_RANK=\(rank)") { return pid }
            }
            usleep(100_000)
        }
        return nil
    }
}
