import CoCoFLCore
import Dispatch

/// Per-unit timing of the CoCoFL block kinds, measured side by side in one run: fp32 forward vs frozen int8
/// forward, and trained (fp32 forward + full backward) vs frozen with backward (int8 forward + input gradient).
public struct UnitBenchmark {
    /// One unit's median times in milliseconds.
    public struct Row: Codable, Sendable {
        public let unit: String
        public let kind: String
        public let fp32ForwardMs: Double
        public let int8ForwardMs: Double?
        public let trainedMs: Double
        public let frozenWithBackwardMs: Double?
        public var forwardSpeedup: Double? { int8ForwardMs.map { fp32ForwardMs / $0 } }
        public var backwardSpeedup: Double? { frozenWithBackwardMs.map { trainedMs / $0 } }
        /// Frozen-unit ops that ran in fp32 instead of int8.
        public let fallbacks: [String]
    }

    public let modelName: String
    public let inputShape: [Int]
    public let batch: Int
    public let repeats: Int

    public init(modelName: String, inputShape: [Int], batch: Int, repeats: Int) {
        self.modelName = modelName
        self.inputShape = inputShape
        self.batch = batch
        self.repeats = repeats
    }

    public func run(progress: (String) -> Void = { _ in }) throws -> [Row] {
        let context = try ComputeContext()
        let model = try ModelZoo.make(modelName, inputShape: inputShape, classes: 10, seed: 1, context: context)
        var generator = SeededGenerator(seed: 3)
        let images = try Tensor(zeros: [batch] + inputShape, context: context)
        try images.assign((0..<images.count).map { _ in Float.random(in: -2...2, using: &generator) })
        // Each unit's real input: the model's evaluation-mode activations, copied out of the reused buffers.
        var inputs: [Tensor] = []
        var x = images
        for unit in model.units {
            inputs.append(try Tensor(shape: x.shape, values: try x.toArray(), context: context))
            x = try unit.layer.forward(x, phase: .evaluation)
        }
        var rows: [Row] = []
        for (index, unit) in model.units.enumerated() {
            progress("unit \(index + 1)/\(model.units.count) \(unit.name)")
            let input = inputs[index]
            let output = try unit.layer.forward(input, phase: .training)
            let upstream = try Tensor(shape: output.shape, values: (0..<output.count).map { _ in Float.random(in: -1...1, using: &generator) }, context: context)
            let fp32Forward = try median { _ = try unit.layer.forward(input, phase: .training) }
            let trained = try median {
                _ = try unit.layer.forward(input, phase: .training)
                _ = try unit.layer.backward(upstream, request: .all)
            }
            var int8Forward: Double?, frozenBackward: Double?, fallbacks: [String] = []
            if unit.kind == .block || unit.kind == .transition,
               let twin = try FrozenUnit.make(unit: unit, precision: .fp32, context: context),
               let frozen = try FrozenUnit.make(unit: unit, precision: .int8, context: context) {
                twin.recordStatistics = true
                _ = try twin.forward(UnitActivation(tensor: input, scale: nil), keepForBackward: true)
                _ = try twin.backward(upstream)
                frozen.calibrate(from: twin.statistics)
                // Frozen units receive int8 from their int8 predecessor; measure with the input already quantized.
                let quantizedInput = try frozen.quantize(input)
                int8Forward = try median { _ = try frozen.forward(quantizedInput, keepForBackward: false) }
                frozenBackward = try median {
                    _ = try frozen.forward(quantizedInput, keepForBackward: true)
                    _ = try frozen.backward(upstream)
                }
                fallbacks = frozen.fallbacks
            }
            rows.append(Row(unit: unit.name, kind: unit.kind.rawValue, fp32ForwardMs: fp32Forward * 1e3, int8ForwardMs: int8Forward.map { $0 * 1e3 },
                            trainedMs: trained * 1e3, frozenWithBackwardMs: frozenBackward.map { $0 * 1e3 }, fallbacks: fallbacks))
        }
        return rows
    }

    private func median(_ body: () throws -> Void) throws -> Double {
        for _ in 0..<3 { try body() }
        var times: [Double] = []
        for _ in 0..<repeats {
            let start = DispatchTime.now().uptimeNanoseconds
            try body()
            times.append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
        }
        return times.sorted()[times.count / 2]
    }
}
