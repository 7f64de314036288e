import CoCoFLCore
import Foundation
import Testing
import NN
import Platform
import TestSupport

@Suite("Convergence on real data", .heavy)
struct ConvergenceTests {
    /// resnet8 fits 256 real Fashion-MNIST training images: ≥ 95 % accuracy on them, measured in evaluation mode
    /// (running BN statistics) after training, so the number is not a training-mode artefact.
    @Test func resnet8FitsFashionMNISTSubset() throws {
        let context = try ComputeContext()
        let data = try DatasetCatalog.load(name: "fashion-mnist", directory: nil).train.subset(first: 256)
        let model = try ModelZoo.make("resnet8", inputShape: [1, 28, 28], classes: 10, seed: 7, context: context)
        let trainer = Trainer(model: model, optimizer: SGD(learningRate: 0.05, momentum: 0.9, weightDecay: 1e-4))
        let batchSize = 32
        var generator = SeededGenerator(seed: 11)
        var order = Array(0..<data.count)
        var labels = [Int32](repeating: 0, count: batchSize)
        var firstEpochLoss = 0.0, lastEpochLoss = 0.0
        for epoch in 0..<30 {
            order.shuffle(using: &generator)
            var epochLoss = 0.0
            for start in stride(from: 0, to: data.count, by: batchSize) {
                let input = try trainer.inputBatch(size: batchSize)
                input.withUnsafeMutableFloats { images in
                    labels.withUnsafeMutableBufferPointer { data.writeBatch(indices: order[start..<start + batchSize], images: images.baseAddress!, labels: $0.baseAddress!) }
                }
                epochLoss += try trainer.step(images: input, labels: labels).loss
            }
            if epoch == 0 { firstEpochLoss = epochLoss } else { lastEpochLoss = epochLoss }
        }
        var correct = 0
        for start in stride(from: 0, to: data.count, by: 64) {
            let input = try trainer.inputBatch(size: 64)
            var batchLabels = [Int32](repeating: 0, count: 64)
            input.withUnsafeMutableFloats { images in
                batchLabels.withUnsafeMutableBufferPointer { data.writeBatch(indices: start..<start + 64, images: images.baseAddress!, labels: $0.baseAddress!) }
            }
            correct += try trainer.evaluate(images: input, labels: batchLabels).correct
        }
        let accuracy = Double(correct) / Double(data.count)
        print("[convergence] resnet8 on 256 images: loss \(firstEpochLoss) → \(lastEpochLoss), training-set accuracy \(accuracy)")
        #expect(lastEpochLoss < firstEpochLoss / 4, "loss \(firstEpochLoss) → \(lastEpochLoss)")
        #expect(accuracy >= 0.95, "training-set accuracy \(accuracy)")
    }
}
