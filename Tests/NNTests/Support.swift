import CoCoFLCore
import Testing
@testable import NN


/// A plain tensor of uniform random values in [-scale, scale].
func randomTensor(_ shape: [Int], scale: Float = 1, seed: UInt64, context: ComputeContext) throws -> Tensor {
    var generator = SeededGenerator(seed: seed)
    let values = (0..<shape.reduce(1, *)).map { _ in Float.random(in: -scale...scale, using: &generator) }
    return try Tensor(shape: shape, values: values, context: context)
}

/// Σ y·r in double precision, the scalar whose gradient the checks compare.
func weightedSum(_ y: Tensor, _ r: [Float]) throws -> Double {
    let values = try y.toArray()
    precondition(values.count == r.count)
    var total = 0.0
    for i in values.indices { total += Double(values[i]) * Double(r[i]) }
    return total
}

/// Result of comparing analytic and central-difference gradients at sampled coordinates.
struct GradientComparison: CustomStringConvertible {
    var worstError = 0.0
    var worstIndex = -1
    var checked = 0
    var description: String { "worst relative error \(worstError) at \(worstIndex) over \(checked) coordinates" }
}

/// Compares `analytic` with (L(x+ε) − L(x−ε)) / 2ε at up to `samples` coordinates of `target`, where `perturb`
/// writes one coordinate and `loss` recomputes the scalar. Errors are relative to max(|analytic|, |numeric|, floor).
func compareGradients(
    analytic: [Float], count: Int, samples: Int, epsilon: Float, floor: Double, seed: UInt64,
    read: (Int) throws -> Float, write: (Int, Float) throws -> Void, loss: () throws -> Double
) throws -> GradientComparison {
    var generator = SeededGenerator(seed: seed)
    var result = GradientComparison()
    let indices = count <= samples ? Array(0..<count) : (0..<samples).map { _ in Int.random(in: 0..<count, using: &generator) }
    for index in indices {
        let original = try read(index)
        try write(index, original + epsilon)
        let plus = try loss()
        try write(index, original - epsilon)
        let minus = try loss()
        try write(index, original)
        let numeric = (plus - minus) / (2 * Double(epsilon))
        let exact = Double(analytic[index])
        let error = abs(numeric - exact) / max(abs(numeric), abs(exact), floor)
        if error > result.worstError { result.worstError = error; result.worstIndex = index }
        result.checked += 1
    }
    return result
}

/// Full finite-difference check of a layer: input gradient and every learnable parameter's gradient.
func checkLayerGradients(
    _ layer: Layer, inputShape: [Int], tolerance: Double, context: ComputeContext, epsilon: Float = 1e-2, samples: Int = 24,
    inputScale: Float = 1, seed: UInt64 = 1
) throws -> [String: GradientComparison] {
    let input = try randomTensor(inputShape, scale: inputScale, seed: seed, context: context)
    var inputValues = try input.toArray()
    let output = try layer.forward(input, phase: .training)
    var generator = SeededGenerator(seed: seed &+ 99)
    let r = (0..<output.count).map { _ in Float.random(in: -1...1, using: &generator) }
    let outputShape = output.shape
    let upstream = try Tensor(shape: outputShape, values: r, context: context)
    let inputGradient = try #require(try layer.backward(upstream, request: .all)).toArray()
    let parameters = layer.namedParameters().filter(\.parameter.isLearnable)
    let parameterGradients = try parameters.map { try $0.parameter.gradient!.toArray() }

    let loss = { () throws -> Double in try weightedSum(layer.forward(try Tensor(shape: inputShape, values: inputValues, context: context), phase: .training), r) }
    var results: [String: GradientComparison] = [:]
    results["input"] = try compareGradients(
        analytic: inputGradient, count: inputValues.count, samples: samples, epsilon: epsilon, floor: 1e-2, seed: seed,
        read: { inputValues[$0] }, write: { inputValues[$0] = $1 }, loss: loss)
    for (index, entry) in parameters.enumerated() {
        var values = try entry.parameter.value.toArray()
        results[entry.key] = try compareGradients(
            analytic: parameterGradients[index], count: values.count, samples: samples, epsilon: epsilon, floor: 1e-2,
            seed: seed &+ UInt64(index),
            read: { values[$0] },
            write: { values[$0] = $1; try entry.parameter.value.assign(values); entry.parameter.touch() },
            loss: loss)
    }
    for (name, comparison) in results {
        #expect(comparison.worstError <= tolerance, "\(type(of: layer)) \(name): \(comparison)")
    }
    return results
}
