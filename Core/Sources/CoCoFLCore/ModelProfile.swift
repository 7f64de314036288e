/// The measured cost of one trained window, absolute and as a fraction of full training.
public struct WindowCost: Codable, Sendable, Equatable {
    /// First trained unit.
    public let first: Int
    /// Last trained unit (inclusive).
    public let last: Int
    /// Median seconds per batch (forward + backward + SGD step).
    public let timeSeconds: Double
    /// `timeSeconds` over full training's.
    public let timeRatio: Double
    /// Peak of the engine's own accounting of live tensor and scratchpad bytes during the steps.
    public let memoryBytes: Int
    /// `memoryBytes` over full training's.
    public let memoryRatio: Double
    /// Growth of the process's peak resident set over its resident set before the window was built.
    public let peakRSSGrowthBytes: Int
    /// fp32 bytes of the window's learnable parameters and buffers.
    public let uploadBytes: Int
    /// `uploadBytes` over full training's.
    public let uploadRatio: Double

    /// A measured window cost.
    public init(first: Int, last: Int, timeSeconds: Double, timeRatio: Double, memoryBytes: Int, memoryRatio: Double,
                peakRSSGrowthBytes: Int, uploadBytes: Int, uploadRatio: Double) {
        self.first = first
        self.last = last
        self.timeSeconds = timeSeconds
        self.timeRatio = timeRatio
        self.memoryBytes = memoryBytes
        self.memoryRatio = memoryRatio
        self.peakRSSGrowthBytes = peakRSSGrowthBytes
        self.uploadBytes = uploadBytes
        self.uploadRatio = uploadRatio
    }

    /// The window this cost belongs to.
    public var window: TrainedWindow { TrainedWindow(first: first, last: last) }

    enum CodingKeys: String, CodingKey {
        case first, last
        case timeSeconds = "time_s", timeRatio = "time_ratio", memoryBytes = "memory_bytes", memoryRatio = "memory_ratio"
        case peakRSSGrowthBytes = "peak_rss_growth_bytes", uploadBytes = "upload_bytes", uploadRatio = "upload_ratio"
    }
}

/// A model's table of window costs on this machine (CoCoFL's design-time profile).
public struct ModelProfile: Codable, Sendable, Equatable {
    /// Model zoo name of the profiled model.
    public let model: String
    /// Input shape [C, H, W] the model was profiled with.
    public let inputShape: [Int]
    /// Number of classes of the model's head.
    public let classes: Int
    /// Batch size of the timed steps.
    public let batch: Int
    /// Timed steps per window (the median is kept).
    public let repeats: Int
    /// Names of the model's units, in order.
    public let unitNames: [String]
    /// The cost of every profiled window, sorted by first, then last unit.
    public let windows: [WindowCost]

    /// A profile from its measured windows.
    public init(model: String, inputShape: [Int], classes: Int, batch: Int, repeats: Int, unitNames: [String], windows: [WindowCost]) {
        self.model = model
        self.inputShape = inputShape
        self.classes = classes
        self.batch = batch
        self.repeats = repeats
        self.unitNames = unitNames
        self.windows = windows
    }

    /// The cost of a window, if profiled.
    public func cost(of window: TrainedWindow) -> WindowCost? {
        windows.first { $0.first == window.first && $0.last == window.last }
    }
}
