import Testing
import TestSupport
@testable import NN

@Suite("Folded inference", .heavy)
struct FoldedInferenceTests {
    @Test("Folded fp32 logits equal the model's evaluation forward; int8 logits stay close and mostly agree on the class",
          arguments: ["resnet8", "mobilenetv2"])
    func foldedMatchesEvaluation(model name: String) throws {
        let context = try ComputeContext()
        let model = try FrozenUnitTests.warmedModel(name, context: context)
        let images = try randomTensor([16, 3, 16, 16], seed: 41, context: context)
        let reference = try model.forward(images, phase: .evaluation).toArray()

        let fp32 = try FoldedInference(model: model, precision: .fp32)
        let blocks = model.units.filter { $0.kind == .block || $0.kind == .transition }.map(\.name)
        #expect(Set(blocks).isSubset(of: fp32.foldedUnits), "every block folds: \(fp32.foldedUnits)")
        let folded = try fp32.logits(images).toArray()
        let foldError = similarity(folded, reference).relativeError
        #expect(foldError <= 1e-5, "\(name): folded fp32 logits vs evaluation forward, relative error \(foldError)")

        let int8 = try FoldedInference(model: model, precision: .int8)
        #expect(!int8.isCalibrated)
        #expect(throws: ModelError.self) { _ = try int8.logits(images) }
        try int8.calibrate(on: try randomTensor([16, 3, 16, 16], seed: 42, context: context))
        let quantized = try int8.logits(images).toArray()
        let int8Error = similarity(quantized, reference)
        #expect(int8Error.cosine >= 0.99, "\(name): int8 logits cosine \(int8Error.cosine), relative error \(int8Error.relativeError)")
        func argmax(_ logits: [Float], _ row: Int) -> Int {
            (0..<10).max { logits[row * 10 + $0] < logits[row * 10 + $1] }!
        }
        let agreeing = (0..<16).filter { argmax(quantized, $0) == argmax(reference, $0) }.count
        #expect(agreeing >= 13, "\(name): int8 and fp32 agree on \(agreeing) of 16 classes")
        // Evaluation of the model's own layers is unaffected by the folded copies.
        #expect(try model.forward(images, phase: .evaluation).toArray() == reference)
    }
}
