/// Fills a plain fp32 tensor with uniform values in [-bound, bound] drawn from `generator`.
func fillUniform<G: RandomNumberGenerator>(_ tensor: Tensor, bound: Float, generator: inout G) {
    let values = tensor.floats
    for i in 0..<tensor.count {
        values[i] = Float.random(in: -bound...bound, using: &generator)
    }
}

/// Fills a plain fp32 tensor with one value.
func fill(_ tensor: Tensor, _ value: Float) {
    tensor.floats.update(repeating: value, count: tensor.count)
}
