/// The models the platform knows, by name.
public enum ModelZoo {
    /// Known architecture names.
    public static let names = ["resnet8", "resnet18", "mobilenetv2", "densenet40"]

    /// Builds `name` for inputs [C, H, W] and `classes` classes, initialized deterministically from `seed`.
    public static func make(_ name: String, inputShape: [Int], classes: Int, seed: UInt64, context: ComputeContext) throws -> Model {
        guard inputShape.count == 3, inputShape.allSatisfy({ $0 > 0 }) else {
            throw ModelError("input shape must be C,H,W with positive sizes, got \(inputShape)")
        }
        guard inputShape[1] >= 8, inputShape[2] >= 8 else {
            throw ModelError("input \(inputShape) is too small: these models downsample by 8; use at least 8×8")
        }
        guard classes >= 2 else { throw ModelError("classes must be at least 2, got \(classes)") }
        var builder = ModelBuilder(context: context, seed: seed, inputShape: inputShape)
        let units: [Model.Unit]
        switch name {
        case "resnet8": units = try builder.resnet(stages: [(16, 1, 1), (32, 1, 2), (64, 1, 2)], stemChannels: 16, classes: classes)
        case "resnet18": units = try builder.resnet(stages: [(64, 2, 1), (128, 2, 2), (256, 2, 2), (512, 2, 2)], stemChannels: 64, classes: classes)
        case "mobilenetv2": units = try builder.mobileNetV2(classes: classes)
        case "densenet40": units = try builder.denseNet(growth: 12, layersPerStage: 6, stages: 3, classes: classes)
        default:
            throw ModelError("unknown model '\(name)'; known models: \(names.joined(separator: ", "))")
        }
        return Model(name: name, units: units, inputShape: inputShape, classCount: classes,
                     forwardFLOPsPerImage: builder.flops, context: context)
    }
}

/// Builds layers while tracking the spatial size and the forward FLOPs per image.
struct ModelBuilder {
    let context: ComputeContext
    var generator: SeededGenerator
    var channels: Int
    var height: Int
    var width: Int
    var flops = 0

    init(context: ComputeContext, seed: UInt64, inputShape: [Int]) {
        self.context = context
        generator = SeededGenerator(seed: seed).derived("model-initialization")
        channels = inputShape[0]
        height = inputShape[1]
        width = inputShape[2]
    }

    /// A convolution from `input` channels at spatial size (h, w); returns it and the output size.
    mutating func conv(_ input: Int, _ output: Int, kernel: Int, stride: Int = 1, padding: Int = 0, groups: Int = 1,
                       at size: (Int, Int)) throws -> (Conv2D, (Int, Int)) {
        let layer = try Conv2D(inputChannels: input, outputChannels: output, kernelSize: kernel, stride: stride,
                               padding: padding, groups: groups, context: context, generator: &generator)
        flops += layer.forwardFLOPs(height: size.0, width: size.1)
        return (layer, (layer.outputSize(size.0), layer.outputSize(size.1)))
    }

    func bn(_ c: Int) throws -> BatchNorm2D { try BatchNorm2D(channels: c, context: context) }
    /// BatchNorm followed by ReLU, fused into one oneDNN pass (same keys as the separate modules).
    func bnReLU(_ c: Int) throws -> BatchNorm2D { try BatchNorm2D(channels: c, fusedReLU: true, context: context) }
    func relu() -> ReLU { ReLU(context: context) }

    mutating func head(_ features: Int, classes: Int, prefix: [(String?, Layer)] = []) throws -> Model.Unit {
        let linear = try Linear(inputFeatures: features, outputFeatures: classes, context: context, generator: &generator)
        flops += 2 * features * classes
        return Model.Unit(name: "head", kind: .head, layer: Sequential(prefix + [
            (nil, GlobalAvgPool2D(context: context)), (nil, Flatten(context: context)), ("linear", linear),
        ]))
    }

    /// CIFAR ResNet with BasicBlocks: stages of (channels, blocks, first stride).
    mutating func resnet(stages: [(Int, Int, Int)], stemChannels: Int, classes: Int) throws -> [Model.Unit] {
        var size = (height, width)
        let (stem, s0) = try conv(channels, stemChannels, kernel: 3, padding: 1, at: size)
        size = s0
        var units = [Model.Unit(name: "conv1", kind: .stem, layer: Sequential([("conv1", stem), ("bn1", try bnReLU(stemChannels))]))]
        var input = stemChannels
        for (stageIndex, (planes, blocks, firstStride)) in stages.enumerated() {
            for blockIndex in 0..<blocks {
                let stride = blockIndex == 0 ? firstStride : 1
                let (c1, s1) = try conv(input, planes, kernel: 3, stride: stride, padding: 1, at: size)
                let (c2, s2) = try conv(planes, planes, kernel: 3, padding: 1, at: s1)
                var shortcut: Sequential?
                if stride != 1 || input != planes {
                    let (sc, _) = try conv(input, planes, kernel: 1, stride: stride, at: size)
                    shortcut = Sequential([("0", sc), ("1", try bn(planes))])
                }
                let block = Residual(
                    main: Sequential([("conv1", c1), ("bn1", try bnReLU(planes)), ("conv2", c2), ("bn2", try bn(planes))]),
                    shortcut: shortcut, post: relu(), context: context)
                let name = "layer\(stageIndex + 1).\(blockIndex)"
                units.append(Model.Unit(name: name, kind: .block, layer: Sequential([(name, block)])))
                input = planes
                size = s2
            }
        }
        units.append(try head(input, classes: classes))
        return units
    }

    /// CIFAR MobileNetV2 as in the reference CIFAR implementation: stride 1 in the stem and the first two stages,
    /// ReLU activations (fused into the preceding BatchNorm).
    mutating func mobileNetV2(classes: Int) throws -> [Model.Unit] {
        let table = [(1, 16, 1, 1), (6, 24, 2, 1), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1), (6, 160, 3, 2), (6, 320, 1, 1)]
        var size = (height, width)
        let (stem, s0) = try conv(channels, 32, kernel: 3, padding: 1, at: size)
        size = s0
        var units = [Model.Unit(name: "conv1", kind: .stem, layer: Sequential([("conv1", stem), ("bn1", try bnReLU(32))]))]
        var input = 32
        var index = 0
        for (expansion, output, repeats, firstStride) in table {
            for r in 0..<repeats {
                let stride = r == 0 ? firstStride : 1
                let planes = expansion * input
                let (c1, s1) = try conv(input, planes, kernel: 1, at: size)
                let (c2, s2) = try conv(planes, planes, kernel: 3, stride: stride, padding: 1, groups: planes, at: s1)
                let (c3, s3) = try conv(planes, output, kernel: 1, at: s2)
                let main = Sequential([
                    ("conv1", c1), ("bn1", try bnReLU(planes)),
                    ("conv2", c2), ("bn2", try bnReLU(planes)),
                    ("conv3", c3), ("bn3", try bn(output)),
                ])
                let block: Layer
                if stride == 1 {
                    var shortcut: Sequential?
                    if input != output {
                        let (sc, _) = try conv(input, output, kernel: 1, at: size)
                        shortcut = Sequential([("0", sc), ("1", try bn(output))])
                    }
                    block = Residual(main: main, shortcut: shortcut, post: nil, context: context)
                } else {
                    block = main
                }
                let name = "layers.\(index)"
                units.append(Model.Unit(name: name, kind: .block, layer: Sequential([(name, block)])))
                input = output
                size = s3
                index += 1
            }
        }
        let (last, s4) = try conv(input, 1280, kernel: 1, at: size)
        size = s4
        units.append(Model.Unit(name: "conv2", kind: .io, layer: Sequential([("conv2", last), ("bn2", try bnReLU(1280))])))
        units.append(try head(1280, classes: classes))
        return units
    }

    /// CIFAR DenseNet with bottleneck layers (BN-ReLU-1×1-BN-ReLU-3×3), compression 0.5; each dense layer's output
    /// is concat([new features, input]).
    mutating func denseNet(growth: Int, layersPerStage: Int, stages: Int, classes: Int) throws -> [Model.Unit] {
        var size = (height, width)
        var input = 2 * growth
        let (stem, s0) = try conv(channels, input, kernel: 3, padding: 1, at: size)
        size = s0
        var units = [Model.Unit(name: "conv1", kind: .stem, layer: Sequential([("conv1", stem)]))]
        for stage in 1...stages {
            for layerIndex in 0..<layersPerStage {
                let (c1, s1) = try conv(input, 4 * growth, kernel: 1, at: size)
                let (c2, _) = try conv(4 * growth, growth, kernel: 3, padding: 1, at: s1)
                let body = Sequential([
                    ("bn1", try bnReLU(input)), ("conv1", c1),
                    ("bn2", try bnReLU(4 * growth)), ("conv2", c2),
                ])
                let name = "dense\(stage).\(layerIndex)"
                units.append(Model.Unit(name: name, kind: .block, layer: Sequential([(name, DenseConcat(body: body, context: context))])))
                input += growth
            }
            if stage < stages {
                let output = input / 2
                let (c, s1) = try conv(input, output, kernel: 1, at: size)
                let name = "trans\(stage)"
                let transition = Sequential([("bn", try bnReLU(input)), ("conv", c), (nil, AvgPool2D(kernelSize: 2, context: context))])
                units.append(Model.Unit(name: name, kind: .transition, layer: Sequential([(name, transition)])))
                input = output
                size = (s1.0 / 2, s1.1 / 2)
            }
        }
        units.append(try head(input, classes: classes, prefix: [("bn", try bnReLU(input))]))
        return units
    }
}
