/// The resources one device has in one round, each a fraction of what training the full model needs.
public struct DeviceLimits: Sendable, Hashable, Codable {
    /// Time per round available for local training, relative to full training.
    public var time: Double
    /// Peak memory available, relative to full training.
    public var memory: Double
    /// Upload volume available, relative to uploading the full model.
    public var upload: Double

    /// Creates limits from the three fractions.
    public init(time: Double, memory: Double, upload: Double) {
        self.time = time
        self.memory = memory
        self.upload = upload
    }

    /// A device that can train and upload the full model.
    public static let unconstrained = DeviceLimits(time: 1, memory: 1, upload: 1)

    /// Whether the limits admit full training: time, memory and upload all at least 1.0 of full training.
    public var admitFullTraining: Bool { time >= 1 && memory >= 1 && upload >= 1 }
}
