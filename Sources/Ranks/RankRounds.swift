import CoCoFLCore
import Foundation
import Platform

/// Trains a round's devices on all ranks at once: the device at position i of the round trains on rank i mod size,
/// and every rank receives every outcome, in the round's device order, before aggregating. Aggregation then sees
/// exactly the updates, in exactly the order, of the single-process run, so the result is the same bit for bit
/// (at the same number of threads per device's training: oneDNN's sums depend on it). Evaluation is split the same
/// way: each rank evaluates a share of the test batches and the sums are exchanged.
public final class RankDeviceExecutor: DeviceExecutor {
    let world: MPIWorld
    /// Rank 0 tells the other ranks to run the round before it trains its share (`RankLeader`).
    let beforeRound: () -> Void
    /// Bytes this rank sent and received in the last round's exchange, for the docs' traffic figures.
    public private(set) var lastExchangeBytes = 0

    init(world: MPIWorld, beforeRound: @escaping () -> Void = {}) {
        self.world = world
        self.beforeRound = beforeRound
    }

    /// Each rank evaluates every size-th test batch (BatchNorm re-estimated in full on each, from the same seeded
    /// draws) and the sums are exchanged: every rank combines the same parts, in batch order.
    public func evaluationParts(_ part: (Evaluator.Share) throws -> Evaluator.Part) throws -> [Evaluator.Part] {
        var writer = ByteWriter()
        do {
            let mine = try part(Evaluator.Share(index: world.rank, count: world.size))
            writer.integer(1)
            writer.integers(mine.batchLosses.keys.sorted())
            for index in mine.batchLosses.keys.sorted() { writer.double(mine.batchLosses[index]!) }
            writer.integers(mine.correctPerClass)
            writer.integers(mine.countPerClass)
        } catch {
            writer.integer(0)
            writer.string("\(error)".split(whereSeparator: \.isNewline).joined(separator: " "))
        }
        return try world.allGather(writer.bytes).map { bytes in
            var reader = ByteReader(bytes)
            guard try reader.integer() == 1 else { throw DeviceFailure(description: try reader.string()) }
            let indices = try reader.integers()
            var losses: [Int: Double] = [:]
            for index in indices { losses[index] = try reader.double() }
            return Evaluator.Part(batchLosses: losses, correctPerClass: try reader.integers(), countPerClass: try reader.integers())
        }
    }
    /// Ranks meet in every round's exchange, so a stop is taken between rounds, by rank 0 for all.
    public var stopsWithinRounds: Bool { false }

    public func outcomes(count: Int, train: (Int) throws -> LocalOutcome) throws -> [LocalOutcome] {
        beforeRound()
        var writer = ByteWriter()
        for position in stride(from: world.rank, to: count, by: world.size) {
            let outcome: WireOutcome
            do {
                outcome = .outcome(try train(position))
            } catch {
                outcome = .failed("\(error)".split(whereSeparator: \.isNewline).joined(separator: " "))
            }
            outcome.write(to: &writer)
            if case .failed = outcome { break }
        }
        let parts = world.allGather(writer.bytes)
        lastExchangeBytes = parts.reduce(0) { $0 + $1.count }
        var readers = parts.map(ByteReader.init)
        var outcomes: [LocalOutcome] = []
        for position in 0..<count {
            let source = position % world.size
            // A rank stops its share at its first failure; the earlier failure in device order is the one reported.
            switch try WireOutcome.read(from: &readers[source]) {
            case .outcome(let outcome): outcomes.append(outcome)
            case .failed(let message): throw DeviceFailure(description: message)
            }
        }
        return outcomes
    }
}

/// A device's training failed on some rank; every rank ends the round with this error.
public struct DeviceFailure: Error, CustomStringConvertible {
    public let description: String
}

/// What rank 0 sends the others: a run to follow (its configuration, profile and starting point), or the end.
enum RunPlan {
    case run(configuration: RunConfiguration, profile: ModelProfile, start: (parameters: [NamedArray], state: Simulation.ResumeState)?)
    case done

    func encoded() throws -> [UInt8] {
        var writer = ByteWriter()
        switch self {
        case .done:
            writer.integer(0)
        case .run(let configuration, let profile, let start):
            writer.integer(1)
            writer.data(try JSONEncoder().encode(configuration))
            writer.data(try JSONEncoder().encode(profile))
            if let start {
                writer.integer(1)
                writer.integer(start.state.completedRounds)
                writer.integer(Int(bitPattern: UInt(start.state.samplingState)))
                writer.integer(Int(bitPattern: UInt(start.state.limitsState)))
                writer.integer(start.parameters.count)
                for array in start.parameters {
                    writer.string(array.key)
                    writer.integers(array.shape)
                    writer.floats(array.values)
                }
            } else {
                writer.integer(0)
            }
        }
        return writer.bytes
    }

    static func decode(_ bytes: [UInt8]) throws -> RunPlan {
        var reader = ByteReader(bytes)
        guard try reader.integer() == 1 else { return .done }
        let configuration = try JSONDecoder().decode(RunConfiguration.self, from: try reader.data())
        let profile = try JSONDecoder().decode(ModelProfile.self, from: try reader.data())
        guard try reader.integer() == 1 else { return .run(configuration: configuration, profile: profile, start: nil) }
        let state = Simulation.ResumeState(completedRounds: try reader.integer(),
                                           samplingState: UInt64(UInt(bitPattern: try reader.integer())),
                                           limitsState: UInt64(UInt(bitPattern: try reader.integer())))
        let parameters = try (0..<reader.integer()).map { _ in
            NamedArray(key: try reader.string(), shape: try reader.integers(), values: try reader.floats())
        }
        return .run(configuration: configuration, profile: profile, start: (parameters, state))
    }
}

/// The per-round command rank 0 broadcasts: run the next round, or the run is over.
enum RoundCommand: Int {
    case endOfRun = 0
    case nextRound = 1

    static func exchange(_ world: MPIWorld, _ command: RoundCommand? = nil) -> RoundCommand {
        var writer = ByteWriter()
        writer.integer(command?.rawValue ?? 0)
        var reader = ByteReader(world.broadcast(world.isRoot ? writer.bytes : []))
        return RoundCommand(rawValue: (try? reader.integer()) ?? 0) ?? .endOfRun
    }
}
