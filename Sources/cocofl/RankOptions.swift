import ArgumentParser
import CoCoFLCore
import Experiments
import Foundation
import Platform
import Ranks

/// The MPI side of `cocofl run` and `cocofl campaign`: under `mpirun -np R` (or `srun --mpi=pmix`) every rank parses
/// the same command; rank 0 runs it as one process would, recording, printing and evaluating, and the other ranks
/// follow its runs, each training its share of every round's devices (docs/scaling.md). Without a launcher this is
/// not used and MPI is never initialized.
struct RankJob {
    let world: MPIWorld

    /// The job of this process, or nil when it was not started with several MPI ranks. Sets the rank's threads (the
    /// node's cores split between its ranks) before any computation.
    static func start() throws -> RankJob? {
        guard let world = try MPIWorld.launched() else { return nil }
        let threads = RankThreads.configure(localRanks: world.localSize)
        if world.isRoot {
            standardError("MPI: \(world.size) ranks (\(world.localSize) on this node), \(threads) thread\(threads == 1 ? "" : "s") each; "
                          + "rank 0 records, all ranks train and evaluate their shares")
        }
        return RankJob(world: world)
    }

    /// Ranks other than 0: follow rank 0's runs until it is done, then end MPI. A rank that cannot follow ends the
    /// whole job with its reason on standard error.
    func follow(catalog: StrategyCatalog, datasets: DatasetCatalog) -> Never {
        do {
            try RankFollower(world: world, catalog: catalog, datasets: datasets).run()
        } catch {
            standardError("Error: \(error)")
            world.abort(code: 1)
        }
        world.finalize()
        exit(0)
    }

    /// Rank 0: runs `body` with a leader for the campaign runner; afterwards (also when `body` throws) tells the
    /// other ranks that nothing more follows and ends MPI.
    func lead<T>(_ body: (RankLeader) throws -> T) throws -> T {
        let leader = RankLeader(world: world)
        defer {
            leader.finish()
            world.finalize()
        }
        return try body(leader)
    }
}

/// `--profile FILE.json`: a measured profile to use instead of measuring one (runs on several machines, or ranks,
/// then choose from the same table).
struct SuppliedProfiles: ParsableArguments {
    @Option(name: .customLong("profile"),
            help: ArgumentHelp("A profile to choose windows and sub-model widths from instead of measuring one: the JSON of cocofl profile --json (repeatable, one per model and input).",
                               valueName: "file.json"))
    var files: [String] = []

    /// The profiles of the files; each file holds one profile object or an array of them.
    func load() throws -> [ModelProfile] {
        try files.flatMap { file -> [ModelProfile] in
            let data: Data
            do {
                data = try Data(contentsOf: URL(fileURLWithPath: file))
            } catch {
                throw CommandLineError(description: "--profile \(file): cannot read it (\(error.localizedDescription)); give a file "
                                       + "written by cocofl profile --json")
            }
            if let one = try? JSONDecoder().decode(ModelProfile.self, from: data) { return [one] }
            do {
                return try JSONDecoder().decode([ModelProfile].self, from: data)
            } catch {
                throw CommandLineError(description: "--profile \(file): not a profile (\(error)); give the JSON of cocofl profile --json")
            }
        }
    }
}
