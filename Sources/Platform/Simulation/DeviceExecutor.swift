import CoCoFLCore

/// How the sampled devices of a round are trained: all in this process one after another, or shared among
/// processes (MPI ranks) that each train some and exchange the outcomes. Whichever it is, every process ends the
/// round with the outcome of every device in the round's order, so that aggregation, and with it the run, is the
/// same bit for bit.
public protocol DeviceExecutor: AnyObject {
    /// The parts of an evaluation of the global model: this process evaluates `part(share)` for its share of the
    /// test batches and receives every process's part (one process: the whole test set).
    func evaluationParts(_ part: (Evaluator.Share) throws -> Evaluator.Part) throws -> [Evaluator.Part]
    /// Whether the round may be abandoned between two devices when a stop is requested; a process that must meet
    /// the others in an exchange stops only between rounds.
    var stopsWithinRounds: Bool { get }
    /// The outcome of each of `count` devices, in order. `train(i)` trains the i-th device here; an error it throws
    /// ends the round in every process alike.
    func outcomes(count: Int, train: (Int) throws -> LocalOutcome) throws -> [LocalOutcome]
}

/// Every device in this process, in order: the single-process round.
public final class LocalDeviceExecutor: DeviceExecutor {
    public init() {}

    public func evaluationParts(_ part: (Evaluator.Share) throws -> Evaluator.Part) throws -> [Evaluator.Part] {
        [try part(.whole)]
    }
    public var stopsWithinRounds: Bool { true }

    public func outcomes(count: Int, train: (Int) throws -> LocalOutcome) throws -> [LocalOutcome] {
        try (0..<count).map(train)
    }
}
