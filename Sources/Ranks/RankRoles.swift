import CoCoFLCore
import Dispatch
import Experiments
import Foundation
import NN
import Platform

/// Rank 0's part: it runs the campaign (or the run) as one process would — recording, printing, evaluating — and
/// before each run tells the other ranks what to follow: the configuration, the profile (theirs must be the same
/// table: one measurement, rank 0's) and the starting point (a resumed run's checkpoint). Each round it tells them to
/// run it; then the devices are shared (`RankDeviceExecutor`).
public final class RankLeader: RunCoordinator {
    let world: MPIWorld
    private var following = false
    private var finished = false

    public init(world: MPIWorld) {
        precondition(world.isRoot, "the leader is rank 0")
        self.world = world
    }

    public func willRun(_ simulation: Simulation) throws {
        let start = simulation.completedRounds > 0 ? (simulation.global.exported(), simulation.resumeState) : nil
        _ = world.broadcast(try RunPlan.run(configuration: simulation.configuration, profile: simulation.profile, start: start).encoded())
        following = true
        let world = self.world
        simulation.executor = RankDeviceExecutor(world: world) { _ = RoundCommand.exchange(world, .nextRound) }
    }

    public func runEnded() {
        guard following else { return }
        following = false
        _ = RoundCommand.exchange(world, .endOfRun)
    }

    /// Tells the other ranks that nothing more follows; then every rank may finalize. Idempotent.
    public func finish() {
        guard !finished else { return }
        runEnded()
        finished = true
        _ = world.broadcast((try? RunPlan.done.encoded()) ?? [0, 0, 0, 0, 0, 0, 0, 0])
    }
}

/// The part of every rank but 0: follow rank 0's runs round by round, training this rank's share of each round's
/// devices and evaluating its share of the test batches. It writes nothing; what it computes reaches rank 0 through
/// the exchanges.
public final class RankFollower {
    let world: MPIWorld
    let catalog: StrategyCatalog
    let datasets: DatasetCatalog
    private var data: [String: DatasetSplit] = [:]

    public init(world: MPIWorld, catalog: StrategyCatalog, datasets: DatasetCatalog) {
        precondition(!world.isRoot, "rank 0 leads")
        self.world = world
        self.catalog = catalog
        self.datasets = datasets
    }

    /// Follows runs until rank 0 says it is done.
    public func run() throws {
        while case .run(let configuration, let profile, let start) = try RunPlan.decode(world.broadcast([])) {
            let simulation: Simulation
            do {
                let key = "\(configuration.dataset)|\(configuration.dataDirectory ?? "")"
                if data[key] == nil { data[key] = try datasets.load(name: configuration.dataset, directory: configuration.dataDirectory) }
                simulation = try Simulation(configuration: configuration, catalog: catalog, datasets: datasets, data: data[key],
                                            profile: profile)
                if let start { try simulation.restore(parameters: start.parameters, state: start.state) }
            } catch {
                // Rank 0 built the same run; this rank cannot (its node lacks the data or a plugin): the job cannot
                // continue, and waiting would hang every rank.
                throw MPIError("rank \(world.rank) cannot follow the run rank 0 started: \(error)")
            }
            simulation.executor = RankDeviceExecutor(world: world)
            while RoundCommand.exchange(world) == .nextRound {
                // A round that fails fails on every rank alike (same outcomes, same aggregation); rank 0 records it.
                _ = try? simulation.runRound()
            }
        }
    }
}

/// The thread count of each rank: the cores of the node split between its ranks, unless OMP_NUM_THREADS says
/// otherwise. Must run before the first oneDNN call (OpenMP reads its settings once).
public enum RankThreads {
    /// Sets `OMP_NUM_THREADS` (read by cocofl's own pool) and OpenMP's thread count for this rank; returns it.
    @discardableResult
    public static func configure(localRanks: Int, environment: [String: String] = ProcessInfo.processInfo.environment) -> Int {
        if let configured = ComputeThreads.configured(environment) { return configured }
        let cores = ProcessInfo.processInfo.activeProcessorCount
        let threads = max(1, cores / max(1, localRanks))
        setenv("OMP_NUM_THREADS", String(threads), 1)
        // libgomp read OMP_NUM_THREADS when it was loaded; this sets it for the parallel regions to come.
        if let symbol = dlsym(nil, "omp_set_num_threads") {  // RTLD_DEFAULT: every loaded object
            typealias SetThreads = @convention(c) (Int32) -> Void
            unsafeBitCast(symbol, to: SetThreads.self)(Int32(threads))
        }
        return threads
    }
}
