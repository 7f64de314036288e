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

/// The measured cost of training one width-scaled sub-model (HeteroFL family), absolute and as a fraction of full
/// training — measured like a CoCoFL window, so that both methods are charged by the same ruler.
public struct SubModelCost: Codable, Sendable, Equatable {
    /// The width ratio r: ⌈r·C⌉ channels of each hidden layer.
    public let ratio: Double
    /// Median seconds per batch (forward + backward + SGD step of the sub-model).
    public let timeSeconds: Double
    /// `timeSeconds` over full training's.
    public let timeRatio: Double
    /// Peak of the engine's live tensor and scratchpad bytes during the steps.
    public let memoryBytes: Int
    /// `memoryBytes` over full training's.
    public let memoryRatio: Double
    /// fp32 bytes of the sub-model's learnable parameters and buffers (what a device uploads).
    public let uploadBytes: Int
    /// `uploadBytes` over full training's.
    public let uploadRatio: Double

    /// A measured sub-model cost.
    public init(ratio: Double, timeSeconds: Double, timeRatio: Double, memoryBytes: Int, memoryRatio: Double, uploadBytes: Int,
                uploadRatio: Double) {
        self.ratio = ratio
        self.timeSeconds = timeSeconds
        self.timeRatio = timeRatio
        self.memoryBytes = memoryBytes
        self.memoryRatio = memoryRatio
        self.uploadBytes = uploadBytes
        self.uploadRatio = uploadRatio
    }

    /// HeteroFL's analytic rule: compute and upload scale with r², activation memory with r.
    public static func analytic(ratio: Double) -> SubModelCost {
        SubModelCost(ratio: ratio, timeSeconds: 0, timeRatio: ratio * ratio, memoryBytes: 0, memoryRatio: ratio, uploadBytes: 0,
                     uploadRatio: ratio * ratio)
    }

    /// The width ratios profiled by default: HeteroFL's grid.
    public static let standardRatios: [Double] = [1, 0.5, 0.25, 0.125]

    enum CodingKeys: String, CodingKey {
        case ratio
        case timeSeconds = "time_s", timeRatio = "time_ratio", memoryBytes = "memory_bytes", memoryRatio = "memory_ratio"
        case uploadBytes = "upload_bytes", uploadRatio = "upload_ratio"
    }
}

/// What of the profile a strategy reads, so that the host measures only that (minutes for large models).
public struct ProfileNeeds: OptionSet, Sendable, Hashable {
    public let rawValue: Int
    public init(rawValue: Int) { self.rawValue = rawValue }
    /// The cost of every contiguous trained window (CoCoFL).
    public static let windows = ProfileNeeds(rawValue: 1)
    /// The cost of each width-scaled sub-model of `SubModelCost.standardRatios` (the HeteroFL family).
    public static let subModels = ProfileNeeds(rawValue: 2)
}

/// A model's table of training costs on this machine (CoCoFL's design-time profile): every trained window, and the
/// width-scaled sub-models of the HeteroFL family.
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
    /// The cost of every profiled sub-model width, largest ratio first (empty when none was measured).
    public let subModels: [SubModelCost]

    /// A profile from its measured windows and sub-models.
    public init(model: String, inputShape: [Int], classes: Int, batch: Int, repeats: Int, unitNames: [String], windows: [WindowCost],
                subModels: [SubModelCost] = []) {
        self.model = model
        self.inputShape = inputShape
        self.classes = classes
        self.batch = batch
        self.repeats = repeats
        self.unitNames = unitNames
        self.windows = windows
        self.subModels = subModels.sorted { $0.ratio > $1.ratio }
    }

    /// What this profile holds.
    public var contents: ProfileNeeds {
        var needs: ProfileNeeds = []
        if !windows.isEmpty { needs.insert(.windows) }
        if !subModels.isEmpty { needs.insert(.subModels) }
        return needs
    }

    /// The measured cost of the sub-model of width `ratio`, if profiled.
    public func cost(ofSubModel ratio: Double) -> SubModelCost? {
        subModels.first { abs($0.ratio - ratio) < 1e-12 }
    }

    private enum CodingKeys: String, CodingKey {
        case model, inputShape, classes, batch, repeats, unitNames, windows
        case subModels = "sub_models"
    }

    /// Decodes a profile; profiles stored before sub-models were measured have none.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        self.init(model: try container.decode(String.self, forKey: .model), inputShape: try container.decode([Int].self, forKey: .inputShape),
                  classes: try container.decode(Int.self, forKey: .classes), batch: try container.decode(Int.self, forKey: .batch),
                  repeats: try container.decode(Int.self, forKey: .repeats), unitNames: try container.decode([String].self, forKey: .unitNames),
                  windows: try container.decode([WindowCost].self, forKey: .windows),
                  subModels: try container.decodeIfPresent([SubModelCost].self, forKey: .subModels) ?? [])
    }

    /// Encodes every field; `sub_models` only when some were measured, so that window-only profiles keep their form.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(model, forKey: .model)
        try container.encode(inputShape, forKey: .inputShape)
        try container.encode(classes, forKey: .classes)
        try container.encode(batch, forKey: .batch)
        try container.encode(repeats, forKey: .repeats)
        try container.encode(unitNames, forKey: .unitNames)
        try container.encode(windows, forKey: .windows)
        if !subModels.isEmpty { try container.encode(subModels, forKey: .subModels) }
    }

    /// The cost of a window, if profiled.
    public func cost(of window: TrainedWindow) -> WindowCost? {
        windows.first { $0.first == window.first && $0.last == window.last }
    }
}
