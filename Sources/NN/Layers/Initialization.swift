import CKernels
import CoCoFLCore

/// Fills a plain fp32 tensor with uniform values in [-bound, bound] drawn from `generator`; the engine's own
/// generator goes through the C loop (the same draws as the generic code, far faster in debug builds).
func fillUniform<G: RandomNumberGenerator>(_ tensor: Tensor, bound: Float, generator: inout G) {
    if var seeded = generator as? SeededGenerator {
        ck_fill_uniform_splitmix(tensor.floats, tensor.count, bound, &seeded.state)
        generator = seeded as! G
        return
    }
    fillUniformGeneric(tensor, bound: bound, generator: &generator)
}

/// `Float.random(in:using:)` element by element: for generators other than `SeededGenerator`, and the reference the
/// C loop is tested against.
func fillUniformGeneric<G: RandomNumberGenerator>(_ tensor: Tensor, bound: Float, generator: inout G) {
    let values = tensor.floats
    for i in 0..<tensor.count {
        values[i] = Float.random(in: -bound...bound, using: &generator)
    }
}

/// Fills a plain fp32 tensor with one value.
func fill(_ tensor: Tensor, _ value: Float) {
    tensor.floats.update(repeating: value, count: tensor.count)
}
