import CDNNL

/// 2-D convolution (cross-correlation, like `torch.nn.Conv2d`) on oneDNN, with groups (depthwise when
/// `groups == inputChannels`) and an optional bias. Weights are kept in PyTorch layout [O, I/groups, kH, kW];
/// each primitive gets them reordered to the layout it chose, once per weight update.
public final class Conv2D: Layer {
    public let inputChannels: Int
    public let outputChannels: Int
    public let kernelSize: Int
    public let stride: Int
    public let padding: Int
    public let groups: Int
    /// Weights [O, I/groups, kH, kW].
    public let weight: Parameter
    /// Bias [O], if the layer has one.
    public let bias: Parameter?
    private var kernel: WeightedKernel!

    /// Creates the layer with PyTorch's default initialization (uniform ±1/√fan_in) from `generator`.
    public init<G: RandomNumberGenerator>(
        inputChannels: Int, outputChannels: Int, kernelSize: Int, stride: Int = 1, padding: Int = 0,
        groups: Int = 1, bias: Bool = false, context: ComputeContext, generator: inout G
    ) throws {
        precondition(inputChannels % groups == 0 && outputChannels % groups == 0, "channels must divide by groups")
        self.inputChannels = inputChannels
        self.outputChannels = outputChannels
        self.kernelSize = kernelSize
        self.stride = stride
        self.padding = padding
        self.groups = groups
        weight = try Parameter(shape: [outputChannels, inputChannels / groups, kernelSize, kernelSize], learnable: true, context: context)
        let bound = 1 / Float(inputChannels / groups * kernelSize * kernelSize).squareRoot()
        fillUniform(weight.value, bound: bound, generator: &generator)
        if bias {
            let b = try Parameter(shape: [outputChannels], learnable: true, context: context)
            fillUniform(b.value, bound: bound, generator: &generator)
            self.bias = b
        } else {
            self.bias = nil
        }
        let weightDims = groups == 1 ? weight.shape
            : [groups, outputChannels / groups, inputChannels / groups, kernelSize, kernelSize]
        kernel = try WeightedKernel(
            name: "Conv2D(\(inputChannels)→\(outputChannels), \(kernelSize)×\(kernelSize))", weight: weight,
            weightDims: weightDims, bias: self.bias, context: context,
            operations: operations(weightDims: weightDims, context: context))
    }

    public var localParameters: [(String, Parameter)] {
        [("weight", weight)] + (bias.map { [("bias", $0)] } ?? [])
    }

    /// Output spatial size for an input size.
    public func outputSize(_ size: Int) -> Int { (size + 2 * padding - kernelSize) / stride + 1 }

    /// FLOPs (2 per multiply-add) of one forward pass for one image of the given input height and width.
    public func forwardFLOPs(height: Int, width: Int) -> Int {
        2 * outputSize(height) * outputSize(width) * outputChannels * (inputChannels / groups) * kernelSize * kernelSize
    }

    /// oneDNN implementations used by the last training step (forward, backward data, backward weights).
    public var implementations: [String] { kernel.implementations }

    public func forward(_ input: Tensor, phase: Phase) throws -> Tensor {
        guard input.shape.count == 4, input.shape[1] == inputChannels else {
            throw ModelError("Conv2D(\(inputChannels)→\(outputChannels)) got input of shape \(input.shape); expected [N, \(inputChannels), H, W]")
        }
        return try kernel.forward(input, phase: phase)
    }

    public func backward(_ outputGradient: Tensor, request: GradientRequest) throws -> Tensor? {
        try kernel.backward(outputGradient, request: request)
    }

    private func operations(weightDims: [Int], context: ComputeContext) -> WeightedKernel.Operations {
        let (outputChannels, stride, padding, hasBias) = (outputChannels, stride, padding, bias != nil)
        let outputSize = { (size: Int) in (size + 2 * padding - weightDims[weightDims.count - 1]) / stride + 1 }
        let outputDims = { (input: [Int]) in [input[0], outputChannels, outputSize(input[2]), outputSize(input[3])] }
        func any(_ dims: [Int]) throws -> dnnl_memory_desc_t { try memoryDescriptor(dims, dnnl_f32, dnnl_format_tag_any) }
        func geometry(_ body: (UnsafePointer<Int64>, UnsafePointer<Int64>) throws -> Void) throws {
            try withDims([stride, stride]) { strides in try withDims([padding, padding]) { pad in try body(strides, pad) } }
        }
        return WeightedKernel.Operations(
            forward: { inputDims, training in
                var (src, wei, dst) = (try any(inputDims), try any(weightDims), try any(outputDims(inputDims)))
                var bia = try memoryDescriptor([outputChannels], dnnl_f32, dnnl_a)
                var op = dnnl_convolution_desc_t()
                try geometry { strides, pad in
                    try withOptionalPointer(to: &bia, present: hasBias) { biasPointer in
                        try check(dnnl_convolution_forward_desc_init(
                            &op, training ? dnnl_forward_training : dnnl_forward_inference, dnnl_convolution_direct,
                            &src, &wei, biasPointer, &dst, strides, pad, pad), "dnnl_convolution_forward_desc_init")
                    }
                }
                return try Primitive("convolution forward", operation: &op, context: context)
            },
            backwardData: { inputDims, hint in
                var (diffSrc, wei, diffDst) = (try any(inputDims), try any(weightDims), try any(outputDims(inputDims)))
                var op = dnnl_convolution_desc_t()
                try geometry { strides, pad in
                    try check(dnnl_convolution_backward_data_desc_init(
                        &op, dnnl_convolution_direct, &diffSrc, &wei, &diffDst, strides, pad, pad),
                              "dnnl_convolution_backward_data_desc_init")
                }
                return try Primitive("convolution backward data", operation: &op, context: context, hint: hint)
            },
            backwardWeights: { inputDims, hint in
                var (src, diffWei, diffDst) = (try any(inputDims), try any(weightDims), try any(outputDims(inputDims)))
                var diffBias = try memoryDescriptor([outputChannels], dnnl_f32, dnnl_a)
                var op = dnnl_convolution_desc_t()
                try geometry { strides, pad in
                    try withOptionalPointer(to: &diffBias, present: hasBias) { biasPointer in
                        try check(dnnl_convolution_backward_weights_desc_init(
                            &op, dnnl_convolution_direct, &src, &diffWei, biasPointer, &diffDst, strides, pad, pad),
                                  "dnnl_convolution_backward_weights_desc_init")
                    }
                }
                return try Primitive("convolution backward weights", operation: &op, context: context, hint: hint)
            })
    }
}
