import CKernels

/// A convolution with the following BatchNorm folded in using its running statistics
/// (W' = W·γ/√(σ²+ε), b' = (b − μ)·γ/√(σ²+ε) + β), optionally followed by ReLU, plus its int8 weights
/// (symmetric, one scale per output channel).
struct FoldedConvolution {
    let inputChannels: Int
    let outputChannels: Int
    let kernelSize: Int
    let stride: Int
    let padding: Int
    let groups: Int
    let relu: Bool
    /// Folded fp32 weights [O, I/G, k, k].
    let weights: [Float]
    /// Folded bias [O].
    let bias: [Float]
    /// Per-output-channel int8 scale: weights ≈ scale[o] · quantizedWeights.
    let weightScales: [Float]
    let quantizedWeights: [Int8]
    /// The transposed weights ([G, I/G, O/G, k, k]) for the input gradient, in fp32 and quantized with one scale
    /// per transposed-convolution output channel (= convolution input channel), so that the gradient itself needs
    /// only one scale.
    let transposedWeights: [Float]
    let transposedWeightScales: [Float]
    let transposedQuantizedWeights: [Int8]

    init(convolution: Conv2D, batchNorm: BatchNorm2D, relu: Bool) throws {
        let outputChannels = convolution.outputChannels
        inputChannels = convolution.inputChannels
        self.outputChannels = outputChannels
        kernelSize = convolution.kernelSize
        stride = convolution.stride
        padding = convolution.padding
        groups = convolution.groups
        self.relu = relu
        let raw = try convolution.weight.value.toArray()
        let rawBias = try convolution.bias?.value.toArray()
        let gamma = try batchNorm.weight.value.toArray(), beta = try batchNorm.bias.value.toArray()
        let mean = try batchNorm.runningMean.value.toArray(), variance = try batchNorm.runningVariance.value.toArray()
        let perChannel = raw.count / outputChannels
        var folded = [Float](repeating: 0, count: raw.count)
        var foldedBias = [Float](repeating: 0, count: outputChannels)
        let epsilon = batchNorm.epsilon
        folded.withUnsafeMutableBufferPointer { fw in
            foldedBias.withUnsafeMutableBufferPointer { fb in
                if let rawBias {
                    ck_fold_batchnorm(raw, rawBias, outputChannels, perChannel, gamma, beta, mean, variance, epsilon, fw.baseAddress, fb.baseAddress)
                } else {
                    ck_fold_batchnorm(raw, nil, outputChannels, perChannel, gamma, beta, mean, variance, epsilon, fw.baseAddress, fb.baseAddress)
                }
            }
        }
        weights = folded
        bias = foldedBias
        var scales = [Float](repeating: 1, count: outputChannels)
        var quantized = [Int8](repeating: 0, count: raw.count)
        scales.withUnsafeMutableBufferPointer { s in
            quantized.withUnsafeMutableBufferPointer { q in
                ck_quantize_per_channel(folded, outputChannels, perChannel, s.baseAddress, q.baseAddress)
            }
        }
        weightScales = scales
        quantizedWeights = quantized
        let transposed = FoldedConvolution.transpose(folded, groups: convolution.groups, outputs: outputChannels,
                                                     inputs: convolution.inputChannels, kernel: convolution.kernelSize)
        let rows = convolution.inputChannels
        var backwardScales = [Float](repeating: 1, count: rows)
        var backwardQuantized = [Int8](repeating: 0, count: raw.count)
        backwardScales.withUnsafeMutableBufferPointer { s in
            backwardQuantized.withUnsafeMutableBufferPointer { q in
                ck_quantize_per_channel(transposed, rows, raw.count / rows, s.baseAddress, q.baseAddress)
            }
        }
        transposedWeights = transposed
        transposedWeightScales = backwardScales
        transposedQuantizedWeights = backwardQuantized
    }

    /// A stride-1 depthwise convolution with "same" padding: its transposed convolution equals a depthwise
    /// convolution with each kernel flipped in both spatial axes, which has fast int8 kernels.
    var backwardIsFlippedConvolution: Bool { isDepthwise && stride == 1 && kernelSize % 2 == 1 && padding == kernelSize / 2 }

    /// Each channel's kernel rotated by 180° (for `backwardIsFlippedConvolution`).
    func flippedKernels<T>(_ values: [T]) -> [T] {
        let area = kernelSize * kernelSize
        var result = values
        for start in Swift.stride(from: 0, to: values.count, by: area) {
            for i in 0..<area { result[start + i] = values[start + area - 1 - i] }
        }
        return result
    }

    /// One group per channel: the transposed convolution keeps channels separate.
    var isDepthwise: Bool { groups > 1 && groups == inputChannels && groups == outputChannels }

    func outputSize(_ size: Int) -> Int { (size + 2 * padding - kernelSize) / stride + 1 }

    /// Weight dims as oneDNN wants them for the convolution ([G, O/G, I/G, k, k] when grouped).
    var convolutionWeightDims: [Int] {
        groups == 1 ? [outputChannels, inputChannels, kernelSize, kernelSize]
            : [groups, outputChannels / groups, inputChannels / groups, kernelSize, kernelSize]
    }

    /// Weight dims of the transposed convolution that computes the input gradient.
    var deconvolutionWeightDims: [Int] {
        groups == 1 ? [inputChannels, outputChannels, kernelSize, kernelSize]
            : [groups, inputChannels / groups, outputChannels / groups, kernelSize, kernelSize]
    }

    /// `values` ([O, I/G, k, k]) with the two channel axes swapped per group, for the deconvolution.
    static func transpose<T>(_ values: [T], groups: Int, outputs: Int, inputs: Int, kernel: Int) -> [T] {
        var result = values
        values.withUnsafeBytes { source in
            result.withUnsafeMutableBytes { destination in
                ck_transpose_group_weights(source.baseAddress, destination.baseAddress, groups, outputs / groups,
                                           inputs / groups, kernel * kernel, MemoryLayout<T>.stride)
            }
        }
        return result
    }
}
