/// What a sampled device did in its round.
public enum LocalOutcome: Sendable {
    /// The device did not take part; the reason goes into the round's metrics (`skipped`).
    case skipped(reason: String)
    /// The device trained and uploads `update`.
    case trained(LocalTraining)
}

/// One device's local training: what it uploads, what it cost as fractions of full training, and its loss.
public struct LocalTraining: Sendable {
    /// The upload: the trained parameters (full tensors, or sub-tensors with the global indices they cover).
    public var update: PartialUpdate
    /// Time per batch as a fraction of full training's (from the profile where it was measured).
    public var timeRatio: Double
    /// Peak memory as a fraction of full training's.
    public var memoryRatio: Double
    /// Mean training loss over the local steps, the `LocalLossTerm`'s value included.
    public var meanLoss: Double

    /// A local training result.
    public init(update: PartialUpdate, timeRatio: Double, memoryRatio: Double, meanLoss: Double) {
        self.update = update
        self.timeRatio = timeRatio
        self.memoryRatio = memoryRatio
        self.meanLoss = meanLoss
    }
}

/// The host's trainer for one sampled device's round: `local_epochs` epochs over the device's shard in seeded
/// order, from this round's global model, with the run's SGD settings (learning rate of the round, weight decay,
/// momentum). A strategy calls exactly one of its methods, or none to skip the device.
public protocol LocalTrainer: AnyObject {
    /// The global parameters the round starts from.
    var global: ParameterSet { get }

    /// Trains the contiguous window of units (`TrainedWindow.full` is plain full-model training, FedAvg): units
    /// before it run frozen forward-only in int8, units after it frozen in int8 with an input-gradient backward
    /// (CoCoFL). Returns the window's parameters as the upload, with the window's measured costs.
    func trainWindow(_ window: TrainedWindow, lossTerm: (any LocalLossTerm)?, generator: inout SeededGenerator) throws -> LocalTraining

    /// Trains a width-scaled sub-model (HeteroFL family): ⌈ratio·C⌉ channels of each hidden layer, picked by
    /// `selection`. Returns the sub-tensors with the global indices they cover. Its costs are the sub-model's
    /// measured ones where the profile has them, else HeteroFL's analytic rule (time r², memory r); a strategy may
    /// replace them.
    func trainSubModel(ratio: Double, selection: SubModelSelection, lossTerm: (any LocalLossTerm)?,
                       generator: inout SeededGenerator) throws -> LocalTraining
}

extension LocalTrainer {
    /// `trainWindow` with the plain cross-entropy loss.
    public func trainWindow(_ window: TrainedWindow, generator: inout SeededGenerator) throws -> LocalTraining {
        try trainWindow(window, lossTerm: nil, generator: &generator)
    }

    /// `trainSubModel` with the plain cross-entropy loss.
    public func trainSubModel(ratio: Double, selection: SubModelSelection, generator: inout SeededGenerator) throws -> LocalTraining {
        try trainSubModel(ratio: ratio, selection: selection, lossTerm: nil, generator: &generator)
    }
}

/// A term added to a device's local loss, e.g. FedProx's proximal term µ/2·‖w − w_start‖². After each backward
/// pass and before the optimizer step, the host calls it once per trained parameter tensor.
public protocol LocalLossTerm {
    /// Adds the term's gradient with respect to `weights` to `gradient` and returns the term's value for this
    /// tensor. `start` holds the tensor's values when local training began (the global model, or the device's
    /// sub-tensor of it). All three have the same count, in the parameter's PyTorch layout.
    func addGradient(key: String, weights: UnsafeBufferPointer<Float>, start: UnsafeBufferPointer<Float>,
                     gradient: UnsafeMutableBufferPointer<Float>) -> Double
}
