import CDNNL

/// Fully connected layer (`torch.nn.Linear`): y = x·Wᵀ + b with weight [out, in], on oneDNN's inner product.
public final class Linear: Layer {
    public let inputFeatures: Int
    public let outputFeatures: Int
    /// Weights [out, in].
    public let weight: Parameter
    /// Bias [out], if the layer has one.
    public let bias: Parameter?
    private var kernel: WeightedKernel!

    /// Creates the layer with PyTorch's default initialization (uniform ±1/√in) from `generator`.
    public init<G: RandomNumberGenerator>(
        inputFeatures: Int, outputFeatures: Int, bias: Bool = true, context: ComputeContext, generator: inout G
    ) throws {
        self.inputFeatures = inputFeatures
        self.outputFeatures = outputFeatures
        weight = try Parameter(shape: [outputFeatures, inputFeatures], learnable: true, context: context)
        let bound = 1 / Float(inputFeatures).squareRoot()
        fillUniform(weight.value, bound: bound, generator: &generator)
        if bias {
            let b = try Parameter(shape: [outputFeatures], learnable: true, context: context)
            fillUniform(b.value, bound: bound, generator: &generator)
            self.bias = b
        } else {
            self.bias = nil
        }
        let (weightDims, hasBias) = (weight.shape, bias)
        func any(_ dims: [Int]) throws -> dnnl_memory_desc_t { try memoryDescriptor(dims, dnnl_f32, dnnl_format_tag_any) }
        kernel = try WeightedKernel(
            name: "Linear(\(inputFeatures)→\(outputFeatures))", weight: weight, weightDims: weightDims, bias: self.bias,
            context: context,
            operations: .init(
                forward: { inputDims, training in
                    var (src, wei, dst) = (try any(inputDims), try any(weightDims), try any([inputDims[0], outputFeatures]))
                    var bia = try memoryDescriptor([outputFeatures], dnnl_f32, dnnl_a)
                    var op = dnnl_inner_product_desc_t()
                    try withOptionalPointer(to: &bia, present: hasBias) { biasPointer in
                        try check(dnnl_inner_product_forward_desc_init(
                            &op, training ? dnnl_forward_training : dnnl_forward_inference, &src, &wei, biasPointer, &dst),
                                  "dnnl_inner_product_forward_desc_init")
                    }
                    return try Primitive("inner product forward", operation: &op, context: context)
                },
                backwardData: { inputDims, hint in
                    var (diffSrc, wei, diffDst) = (try any(inputDims), try any(weightDims), try any([inputDims[0], outputFeatures]))
                    var op = dnnl_inner_product_desc_t()
                    try check(dnnl_inner_product_backward_data_desc_init(&op, &diffSrc, &wei, &diffDst),
                              "dnnl_inner_product_backward_data_desc_init")
                    return try Primitive("inner product backward data", operation: &op, context: context, hint: hint)
                },
                backwardWeights: { inputDims, hint in
                    var (src, diffWei, diffDst) = (try any(inputDims), try any(weightDims), try any([inputDims[0], outputFeatures]))
                    var diffBias = try memoryDescriptor([outputFeatures], dnnl_f32, dnnl_a)
                    var op = dnnl_inner_product_desc_t()
                    try withOptionalPointer(to: &diffBias, present: hasBias) { biasPointer in
                        try check(dnnl_inner_product_backward_weights_desc_init(&op, &src, &diffWei, biasPointer, &diffDst),
                                  "dnnl_inner_product_backward_weights_desc_init")
                    }
                    return try Primitive("inner product backward weights", operation: &op, context: context, hint: hint)
                }))
    }

    public var localParameters: [(String, Parameter)] {
        [("weight", weight)] + (bias.map { [("bias", $0)] } ?? [])
    }

    public func forward(_ input: Tensor, phase: Phase) throws -> Tensor {
        guard input.shape.count == 2, input.shape[1] == inputFeatures else {
            throw ModelError("Linear(\(inputFeatures)→\(outputFeatures)) got input of shape \(input.shape); expected [N, \(inputFeatures)]")
        }
        return try kernel.forward(input, phase: phase)
    }

    public func backward(_ outputGradient: Tensor, request: GradientRequest) throws -> Tensor? {
        try kernel.backward(outputGradient, request: request)
    }
}
