import CoCoFLCore
import Dispatch
import Foundation

/// Measures every contiguous window of a model, and each width-scaled sub-model of the HeteroFL family: median step
/// time over repetitions, peak memory and upload size, all also relative to full training. Each measurement gets a
/// fresh compute context and model (same seed), so caches of one never count for another.
public struct Profiler {
    public let modelName: String
    public let inputShape: [Int]
    public let classes: Int
    public let batch: Int
    public let repeats: Int
    public let precision: FrozenPrecision

    public init(modelName: String, inputShape: [Int], classes: Int, batch: Int, repeats: Int, precision: FrozenPrecision = .int8) throws {
        guard batch > 0 else { throw ModelError("the profile's batch size must be positive, got \(batch)") }
        guard repeats > 0 else { throw ModelError("the profile's repeat count must be positive, got \(repeats)") }
        self.modelName = modelName
        self.inputShape = inputShape
        self.classes = classes
        self.batch = batch
        self.repeats = repeats
        self.precision = precision
    }

    /// Profiles what `needs` asks for: the given windows (all n(n+1)/2 by default) and the sub-models of
    /// `subModelRatios`. Full training is always measured first, as the reference of every ratio and the costs of
    /// width 1; it is kept only with the windows. `progress` receives (done, total, what is being measured).
    public func run(windows requested: [TrainedWindow]? = nil, needs: ProfileNeeds = .windows,
                    subModelRatios: [Double] = SubModelCost.standardRatios,
                    progress: (Int, Int, String) -> Void = { _, _, _ in }) throws -> ModelProfile {
        let probe = try ModelZoo.make(modelName, inputShape: inputShape, classes: classes, seed: 1, context: ComputeContext())
        let unitCount = probe.units.count
        let full = TrainedWindow.full(unitCount: unitCount)
        var windows = needs.contains(.windows) ? requested ?? TrainedWindow.all(unitCount: unitCount) : []
        if let bad = windows.first(where: { $0.last >= unitCount }) {
            throw ModelError("window \(bad) is outside \(modelName)'s units 0…\(unitCount - 1)")
        }
        let ratios = needs.contains(.subModels) ? subModelRatios.sorted(by: >) : []
        if let bad = ratios.first(where: { !($0 > 0 && $0 <= 1) }) {
            throw ModelError("width ratio \(bad) is outside (0, 1]")
        }
        // Full training first: every ratio is relative to it.
        windows.removeAll { $0 == full }
        windows.insert(full, at: 0)
        let total = windows.count + ratios.count
        var raw: [(TrainedWindow, Double, Int, Int, Int)] = []
        for (index, window) in windows.enumerated() {
            progress(index, total, "window \(window)")
            raw.append(try measure(window))
        }
        let reference = raw[0]
        let costs = raw.map { window, time, memory, rss, upload in
            WindowCost(first: window.first, last: window.last, timeSeconds: time, timeRatio: time / reference.1,
                       memoryBytes: memory, memoryRatio: Double(memory) / Double(reference.2), peakRSSGrowthBytes: rss,
                       uploadBytes: upload, uploadRatio: Double(upload) / Double(reference.4))
        }.sorted { ($0.first, $0.last) < ($1.first, $1.last) }
        var subModels: [SubModelCost] = []
        for (index, ratio) in ratios.enumerated() {
            progress(windows.count + index, total, "sub-model \(ratio)")
            // Width 1 is full training itself: its costs are the reference, not a second noisy measurement of it
            // (measured apart on a busy machine it came out above 1, and devices that may train the full model
            // were refused it).
            let (time, memory, upload) = ratio == 1 ? (reference.1, reference.2, reference.4) : try measure(widthRatio: ratio)
            subModels.append(SubModelCost(ratio: ratio, timeSeconds: time, timeRatio: time / reference.1, memoryBytes: memory,
                                          memoryRatio: Double(memory) / Double(reference.2), uploadBytes: upload,
                                          uploadRatio: Double(upload) / Double(reference.4)))
        }
        return ModelProfile(model: modelName, inputShape: inputShape, classes: classes, batch: batch, repeats: repeats,
                            unitNames: probe.units.map(\.name), windows: needs.contains(.windows) ? costs : [],
                            subModels: subModels)
    }

    /// A width-scaled sub-model trained as a HeteroFL-family device trains it: every unit, the plain trainer.
    private func measure(widthRatio: Double) throws -> (time: Double, memory: Int, upload: Int) {
        let context = try ComputeContext()
        let model = try ModelZoo.make(modelName, inputShape: inputShape, classes: classes, seed: 1, context: context, widthRatio: widthRatio)
        let trainer = Trainer(model: model, optimizer: SGD(learningRate: 0, weightDecay: 1e-3))
        let (images, labels) = try batchData(context: context)
        try trainer.step(images: images, labels: labels)  // warm-up: primitives and buffers
        let median = try medianTime { try trainer.step(images: images, labels: labels) ; try context.wait() }
        let upload = model.namedParameters().reduce(0) { $0 + $1.parameter.value.count * 4 }
        return (median, context.peakBytes, upload)
    }

    /// The same random batch for every measurement.
    private func batchData(context: ComputeContext) throws -> (Tensor, [Int32]) {
        let images = try Tensor(zeros: [batch] + inputShape, context: context)
        var generator = SeededGenerator(seed: 5)
        try images.assign((0..<images.count).map { _ in Float.random(in: -2...2, using: &generator) })
        return (images, (0..<batch).map { Int32($0 % classes) })
    }

    /// The median of `repeats` timed calls of `step`.
    private func medianTime(_ step: () throws -> Void) throws -> Double {
        var times: [Double] = []
        for _ in 0..<repeats {
            let start = DispatchTime.now().uptimeNanoseconds
            try step()
            times.append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
        }
        return times.sorted()[times.count / 2]
    }

    private func measure(_ window: TrainedWindow) throws -> (TrainedWindow, Double, Int, Int, Int) {
        let context = try ComputeContext()
        ProcessMemory.resetPeak()
        let residentBefore = ProcessMemory.resident()
        let model = try ModelZoo.make(modelName, inputShape: inputShape, classes: classes, seed: 1, context: context)
        // lr 0 keeps the weights fixed while doing the full update arithmetic.
        let trainer = try WindowTrainer(model: model, window: window, optimizer: SGD(learningRate: 0, weightDecay: 1e-3), precision: precision)
        let (images, labels) = try batchData(context: context)
        try trainer.step(images: images, labels: labels)  // calibration (fp32 frozen units)
        try trainer.step(images: images, labels: labels)  // warm-up: primitives and buffers of the int8 path
        let median = try medianTime { try trainer.step(images: images, labels: labels); try context.wait() }
        let rssGrowth = max(0, ProcessMemory.peakResident() - residentBefore)
        return (window, median, context.peakBytes, rssGrowth, WindowTrainer.uploadBytes(model: model, window: window))
    }
}

/// Resident-set readings from /proc/self (Linux).
enum ProcessMemory {
    /// Resets the kernel's peak-RSS mark (VmHWM) to the current RSS.
    static func resetPeak() {
        try? "5".write(toFile: "/proc/self/clear_refs", atomically: false, encoding: .utf8)
    }

    static func resident() -> Int { field("VmRSS:") }
    static func peakResident() -> Int { field("VmHWM:") }

    private static func field(_ name: String) -> Int {
        guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
              let line = status.split(separator: "\n").first(where: { $0.hasPrefix(name) }) else { return 0 }
        let kilobytes = line.split(separator: " ").compactMap { Int($0) }.first ?? 0
        return kilobytes * 1024
    }
}
