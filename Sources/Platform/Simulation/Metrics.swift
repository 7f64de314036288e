/// The server's evaluation of the global model on the test set.
public struct EvaluationMetrics: Codable, Sendable, Equatable {
    public let loss: Double
    public let accuracy: Double
    /// Accuracy on the test samples of each class.
    public let perClassAccuracy: [Double]
    /// Accuracy on each device group's data distribution: Σ_c share_g(c)·accuracy(c), with share_g the group's
    /// class histogram from the partition (fairness: does the model serve the weak devices' data?).
    public let perGroupAccuracy: [String: Double]
    /// Best minus worst group accuracy.
    public let groupGap: Double
}

/// What one round did.
public struct RoundMetrics: Codable, Sendable {
    public let round: Int
    public let learningRate: Double
    /// Sampled devices that trained.
    public let participants: Int
    /// Sampled devices that could not take part, by reason.
    public let skipped: [String: Int]
    /// Participants whose update held a NaN or an infinity and was dropped before aggregation (not counted in
    /// `participants` or `uploadBytes`).
    public let droppedNonFinite: Int
    /// fp32 bytes uploaded by all participants.
    public let uploadBytes: Int
    /// Mean over participants of the profiled time and memory of their configuration, as fractions of full training.
    public let meanDeviceTimeRatio: Double
    public let meanDeviceMemoryRatio: Double
    /// Mean training loss over the participants' local steps.
    public let trainingLoss: Double
    /// Wall-clock seconds of the round (training and aggregation, evaluation included).
    public let seconds: Double
    /// Present in evaluation rounds.
    public let evaluation: EvaluationMetrics?

    /// Number of skipped devices.
    public var skippedCount: Int { skipped.values.reduce(0, +) }
}
