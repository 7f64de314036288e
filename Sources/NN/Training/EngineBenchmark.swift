import CoCoFLCore
import CKernels
import Dispatch
import Foundation

/// Measures the engine side by side in one run: the machine's fp32 FMA peak, a 3×3 convolution's three passes,
/// and whole-model training throughput. Used by `cocofl bench`.
public struct EngineBenchmark {
    let context: ComputeContext

    public init(context: ComputeContext) { self.context = context }

    /// One measured pass of the convolution benchmark.
    public struct ConvolutionResult: Codable, Sendable {
        public let pass: String
        public let milliseconds: Double
        public let gflops: Double
        public let fractionOfPeak: Double
        public let implementation: String
    }

    /// One model's training throughput.
    public struct ModelResult: Codable, Sendable {
        public let model: String
        public let imagesPerSecond: Double
        public let millisecondsPerStep: Double
        public let forwardMFLOPsPerImage: Double
        public let trainingGFLOPs: Double
        public let fractionOfPeak: Double
        /// Forward-only images/s in evaluation mode through the model's own layers (BN unfolded).
        public let evaluationImagesPerSecond: Double
        /// Forward-only images/s through `FoldedInference` in fp32, and in int8.
        public let foldedImagesPerSecond: Double
        public let int8FoldedImagesPerSecond: Double
        /// Milliseconds to fold the model (a new `FoldedInference`, as before each evaluation).
        public let foldMilliseconds: Double
    }

    /// Everything `cocofl bench` prints.
    public struct Report: Codable, Sendable {
        public let threads: Int
        public let peakGFLOPs: Double
        public let convolutionShape: String
        public let convolution: [ConvolutionResult]
        public let batch: Int
        public let evaluationBatch: Int
        public let inputShape: [Int]
        public let models: [ModelResult]

        /// A plain-text table.
        public var table: String {
            var lines = ["fp32 peak (FMA loop, \(threads) threads): \(format(peakGFLOPs, 1)) GFLOP/s", "",
                         "3×3 convolution \(convolutionShape)",
                         pad("pass", 18) + pad("ms", 10) + pad("GFLOP/s", 10) + pad("of peak", 9) + "implementation"]
            for c in convolution {
                lines.append(pad(c.pass, 18) + pad(format(c.milliseconds, 3), 10) + pad(format(c.gflops, 1), 10)
                             + pad(format(100 * c.fractionOfPeak, 1) + "%", 9) + c.implementation)
            }
            lines += ["", "training, batch \(batch), input \(inputShape.map(String.init).joined(separator: "×"))",
                      pad("model", 13) + pad("images/s", 10) + pad("ms/step", 10) + pad("MFLOP/img", 11) + pad("GFLOP/s", 9) + "of peak"]
            for m in models {
                lines.append(pad(m.model, 13) + pad(format(m.imagesPerSecond, 1), 10) + pad(format(m.millisecondsPerStep, 2), 10)
                             + pad(format(m.forwardMFLOPsPerImage, 1), 11) + pad(format(m.trainingGFLOPs, 1), 9)
                             + format(100 * m.fractionOfPeak, 1) + "%")
            }
            lines += ["", "evaluation (forward only), batch \(evaluationBatch); training images/s repeated for comparison",
                      pad("model", 13) + pad("train/s", 10) + pad("layers/s", 10) + pad("folded/s", 10) + pad("int8/s", 10)
                          + pad("fold ms", 9) + pad("10k images", 11) + "folded vs layers"]
            for m in models {
                let tenThousand = 10_000 / m.foldedImagesPerSecond + m.foldMilliseconds / 1e3
                lines.append(pad(m.model, 13) + pad(format(m.imagesPerSecond, 1), 10)
                             + pad(format(m.evaluationImagesPerSecond, 1), 10) + pad(format(m.foldedImagesPerSecond, 1), 10)
                             + pad(format(m.int8FoldedImagesPerSecond, 1), 10) + pad(format(m.foldMilliseconds, 1), 9)
                             + pad(format(tenThousand, 2) + " s", 11)
                             + format(m.foldedImagesPerSecond / m.evaluationImagesPerSecond, 2) + "×")
            }
            return lines.joined(separator: "\n")
        }
    }

    /// The fp32 FMA peak over all cores, in GFLOP/s (best of several rounds).
    public func measurePeak() -> (gflops: Double, threads: Int) {
        let threads = ProcessInfo.processInfo.activeProcessorCount
        var best = 0.0
        for _ in 0..<5 {
            let start = DispatchTime.now().uptimeNanoseconds
            // Every thread runs the same count, so the total is threads × one kernel's FLOPs.
            let iterations = 20_000_000
            DispatchQueue.concurrentPerform(iterations: threads) { _ in _ = ck_fma_peak_kernel(iterations) }
            let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
            best = max(best, Double(threads) * ck_fma_peak_flops(iterations) / seconds / 1e9)
        }
        return (best, threads)
    }

    /// Median seconds of `body` over `repeats` runs after `warmup` runs.
    func median(repeats: Int, warmup: Int = 3, _ body: () throws -> Void) throws -> Double {
        for _ in 0..<warmup { try body() }
        var times: [Double] = []
        for _ in 0..<repeats {
            let start = DispatchTime.now().uptimeNanoseconds
            try body()
            try context.wait()
            times.append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
        }
        return times.sorted()[times.count / 2]
    }

    public func run(models: [String], inputShape: [Int], batch: Int, steps: Int, convolutionChannels: Int,
                    convolutionSize: Int, evaluationBatch: Int, progress: (String) -> Void) throws -> Report {
        progress("measuring fp32 peak…")
        let (peak, threads) = measurePeak()

        progress("measuring 3×3 convolution…")
        var generator = SeededGenerator(seed: 1)
        let conv = try Conv2D(inputChannels: convolutionChannels, outputChannels: convolutionChannels, kernelSize: 3,
                              padding: 1, context: context, generator: &generator)
        let input = try Tensor(zeros: [batch, convolutionChannels, convolutionSize, convolutionSize], context: context)
        try input.assign((0..<input.count).map { Float(($0 * 7919) % 255) / 255 - 0.5 })
        let flops = Double(batch * conv.forwardFLOPs(height: convolutionSize, width: convolutionSize))
        let output = try conv.forward(input, phase: .training)
        let upstream = try Tensor(zeros: output.shape, context: context)
        try upstream.assign((0..<upstream.count).map { Float(($0 * 104729) % 97) / 97 - 0.5 })
        // Run each pass once so that reorders of the operands are cached before timing.
        _ = try conv.backward(upstream, request: .all)
        let passes: [(String, () throws -> Void)] = [
            ("forward", { _ = try conv.forward(input, phase: .training) }),
            ("backward data", { _ = try conv.backward(upstream, request: GradientRequest(input: true, parameters: false)) }),
            ("backward weights", { _ = try conv.backward(upstream, request: GradientRequest(input: false, parameters: true)) }),
        ]
        var convolution: [ConvolutionResult] = []
        for (index, (name, body)) in passes.enumerated() {
            let seconds = try median(repeats: 30, body)
            let implementation = conv.implementations.indices.contains(index) ? conv.implementations[index] : "?"
            convolution.append(ConvolutionResult(pass: name, milliseconds: seconds * 1e3, gflops: flops / seconds / 1e9,
                                                 fractionOfPeak: flops / seconds / 1e9 / peak, implementation: implementation))
        }

        var results: [ModelResult] = []
        for name in models {
            progress("measuring \(name) training…")
            let model = try ModelZoo.make(name, inputShape: inputShape, classes: 10, seed: 1, context: context)
            let trainer = Trainer(model: model, optimizer: SGD(learningRate: 0.01, weightDecay: 1e-3))
            let images = try trainer.inputBatch(size: batch)
            try images.assign((0..<images.count).map { Float(($0 * 31) % 255) / 128 - 1 })
            let labels = (0..<batch).map { Int32($0 % 10) }
            let seconds = try median(repeats: steps) { try trainer.step(images: images, labels: labels) }
            let trainingFLOPs = 3 * Double(model.forwardFLOPsPerImage) * Double(batch)

            progress("measuring \(name) evaluation…")
            let evaluationImages = try Tensor(zeros: [evaluationBatch] + inputShape, context: context)
            try evaluationImages.assign((0..<evaluationImages.count).map { Float(($0 * 31) % 255) / 128 - 1 })
            let layers = try median(repeats: steps) { _ = try model.forward(evaluationImages, phase: .evaluation) }
            let foldStart = DispatchTime.now().uptimeNanoseconds
            let folded = try FoldedInference(model: model, precision: .fp32)
            _ = try folded.logits(evaluationImages)  // the first call builds the primitives
            try context.wait()
            let foldSeconds = Double(DispatchTime.now().uptimeNanoseconds - foldStart) / 1e9 - layers
            let foldedSeconds = try median(repeats: steps) { _ = try folded.logits(evaluationImages) }
            let int8 = try FoldedInference(model: model, precision: .int8)
            try int8.calibrate(on: images)
            let int8Seconds = try median(repeats: steps) { _ = try int8.logits(evaluationImages) }
            results.append(ModelResult(
                model: name, imagesPerSecond: Double(batch) / seconds, millisecondsPerStep: seconds * 1e3,
                forwardMFLOPsPerImage: Double(model.forwardFLOPsPerImage) / 1e6, trainingGFLOPs: trainingFLOPs / seconds / 1e9,
                fractionOfPeak: trainingFLOPs / seconds / 1e9 / peak,
                evaluationImagesPerSecond: Double(evaluationBatch) / layers,
                foldedImagesPerSecond: Double(evaluationBatch) / foldedSeconds,
                int8FoldedImagesPerSecond: Double(evaluationBatch) / int8Seconds, foldMilliseconds: max(0, foldSeconds) * 1e3))
        }
        return Report(threads: threads, peakGFLOPs: peak,
                      convolutionShape: "\(convolutionChannels)→\(convolutionChannels), \(convolutionSize)×\(convolutionSize), batch \(batch)",
                      convolution: convolution, batch: batch, evaluationBatch: evaluationBatch, inputShape: inputShape,
                      models: results)
    }
}

private func format(_ value: Double, _ digits: Int) -> String { String(format: "%.\(digits)f", value) }
private func pad(_ text: String, _ width: Int) -> String { text.count >= width ? text + " " : text + String(repeating: " ", count: width - text.count) }
