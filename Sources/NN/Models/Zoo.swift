import CoCoFLCore
/// The models the platform knows, by name.
public enum ModelZoo {
    /// Known architecture names.
    public static let names = ["resnet8", "resnet18", "mobilenetv2", "densenet40"]

    /// Builds `name` for inputs [C, H, W] and `classes` classes, initialized deterministically from `seed`.
    ///
    /// With `widthRatio` r < 1 every hidden channel count C becomes ⌈r·C⌉ (the image channels and the class count
    /// stay): the width-scaled sub-model that HeteroFL, FedRolex and Federated Dropout devices train, with the keys
    /// of the full model. r = 1 is the full model. DenseNet concatenates channel spaces and cannot be scaled.
    public static func make(_ name: String, inputShape: [Int], classes: Int, seed: UInt64, context: ComputeContext,
                            widthRatio: Double = 1) throws -> Model {
        let architecture = try architecture(name, inputShape: inputShape, classes: classes)
        try architecture.validate(widthRatio: widthRatio)
        var builder = ModelBuilder(context: context, seed: seed, inputShape: inputShape, widthRatio: widthRatio)
        let units = try architecture.units.map { unit in
            Model.Unit(name: unit.name, kind: unit.kind, layer: try builder.sequential(unit.modules))
        }
        return Model(name: name, units: units, inputShape: inputShape, classCount: classes,
                     forwardFLOPsPerImage: builder.flops, context: context)
    }

    /// ⌈ratio·channels⌉, at least 1. The tolerance keeps products such as 0.3·10 = 3.0000000000000004 at 3.
    public static func scaledWidth(_ channels: Int, ratio: Double) -> Int {
        max(1, Int((ratio * Double(channels) - 1e-9).rounded(.up)))
    }

    /// The description of `name` (layers, keys and channel spaces), without creating any layer.
    static func architecture(_ name: String, inputShape: [Int], classes: Int) throws -> Architecture {
        guard inputShape.count == 3, inputShape.allSatisfy({ $0 > 0 }) else {
            throw ModelError("input shape must be C,H,W with positive sizes, got \(inputShape)")
        }
        guard inputShape[1] >= 8, inputShape[2] >= 8 else {
            throw ModelError("input \(inputShape) is too small: these models downsample by 8; use at least 8×8")
        }
        guard classes >= 2 else { throw ModelError("classes must be at least 2, got \(classes)") }
        let description = ArchitectureDescriber(
            image: ChannelSpace(name: "input", size: inputShape[0], scaling: .fixed),
            classes: ChannelSpace(name: "classes", size: classes, scaling: .fixed))
        let units: [UnitDescription]
        switch name {
        case "resnet8": units = description.resnet(stages: [(16, 1, 1), (32, 1, 2), (64, 1, 2)], stemChannels: 16)
        case "resnet18": units = description.resnet(stages: [(64, 2, 1), (128, 2, 2), (256, 2, 2), (512, 2, 2)], stemChannels: 64)
        case "mobilenetv2": units = description.mobileNetV2()
        case "densenet40": units = description.denseNet(growth: 12, layersPerStage: 6, stages: 3)
        default:
            throw ModelError("unknown model '\(name)'; known models: \(names.joined(separator: ", "))")
        }
        return Architecture(name: name, image: description.image, units: units)
    }
}

// MARK: Architecture descriptions

/// A set of channels that connected tensors share: a convolution's outputs, the BatchNorm after it, the next
/// convolution's inputs, and every tensor of a residual stream (identity shortcuts add tensors elementwise).
/// Width scaling keeps ⌈r·size⌉ of them; a sub-model selection picks which ones, once per space.
struct ChannelSpace: Hashable, Sendable {
    /// How a space reacts to width scaling.
    enum Scaling: Hashable, Sendable {
        /// Image channels and classes: never scaled.
        case fixed
        /// A hidden channel count: scaled to ⌈r·size⌉.
        case scaled
        /// Channels concatenated from several spaces (DenseNet), which width scaling does not support.
        case concatenated
    }

    /// Stable name (the module that creates the space), used to derive per-space random choices.
    let name: String
    /// Channel count in the full model.
    let size: Int
    let scaling: Scaling

    /// Channel count in the model of width ratio `ratio`.
    func width(ratio: Double) -> Int { scaling == .fixed ? size : ModelZoo.scaledWidth(size, ratio: ratio) }
}

/// One module of an architecture description; materialized into a `Layer` by `ModelBuilder` and read for
/// channel spaces by `SubModelMap`, so the architecture is written once.
indirect enum ModuleDescription {
    /// Convolution without bias; depthwise ones map a space onto itself with groups == channels.
    case convolution(input: ChannelSpace, output: ChannelSpace, kernel: Int, stride: Int, padding: Int, depthwise: Bool)
    case batchNorm(ChannelSpace, fusedReLU: Bool)
    case relu
    case sequential([NamedModule])
    /// post(main(x) + shortcut(x)), the shortcut being the identity when nil.
    case residual(main: [NamedModule], shortcut: [NamedModule]?, postReLU: Bool)
    /// concat([body(x), x]) along channels; `output` is the concatenated space.
    case denseConcat(body: [NamedModule], output: ChannelSpace)
    case averagePool(kernel: Int)
    case globalAveragePool
    case flatten
    case linear(input: ChannelSpace, output: ChannelSpace)

    static func conv(_ input: ChannelSpace, _ output: ChannelSpace, kernel: Int, stride: Int = 1, padding: Int = 0) -> Self {
        .convolution(input: input, output: output, kernel: kernel, stride: stride, padding: padding, depthwise: false)
    }

    static func depthwise(_ space: ChannelSpace, kernel: Int, stride: Int, padding: Int) -> Self {
        .convolution(input: space, output: space, kernel: kernel, stride: stride, padding: padding, depthwise: true)
    }

    static func bn(_ space: ChannelSpace) -> Self { .batchNorm(space, fusedReLU: false) }
    /// BatchNorm followed by ReLU, fused into one oneDNN pass (same keys as the separate modules).
    static func bnReLU(_ space: ChannelSpace) -> Self { .batchNorm(space, fusedReLU: true) }
}

/// A module with its local name; nil for modules without parameters (activations, pooling), which do not
/// appear in keys.
typealias NamedModule = (name: String?, module: ModuleDescription)

/// One freezable unit of an architecture description.
struct UnitDescription {
    let name: String
    let kind: Model.UnitKind
    /// The unit's top-level modules; their names are the model-level PyTorch module names.
    let modules: [NamedModule]
}

/// A model architecture as a value: units of modules annotated with channel spaces.
struct Architecture {
    let name: String
    /// The space of the input image channels.
    let image: ChannelSpace
    let units: [UnitDescription]

    /// Throws unless 0 < ratio ≤ 1 and the architecture can be width-scaled by `ratio`.
    func validate(widthRatio ratio: Double) throws {
        guard ratio > 0, ratio <= 1 else {
            throw ModelError("width ratio \(ratio) is outside (0, 1]; use a width ratio such as 0.5 (1 = full width)")
        }
        if ratio < 1, let space = spaces.first(where: { $0.scaling == .concatenated }) {
            throw ModelError("model \(name) cannot be width-scaled (width ratio \(ratio)): its channel space '\(space.name)' "
                + "concatenates other spaces (dense layers), which the sub-model machinery (HeteroFL, FedRolex, Federated "
                + "Dropout) does not support; use width ratio 1 or a resnet/mobilenetv2 model")
        }
    }

    /// Every channel space that appears in a convolution, BatchNorm, linear layer or concatenation.
    var spaces: [ChannelSpace] {
        var result: [ChannelSpace] = []
        func visit(_ modules: [NamedModule]) {
            for (_, module) in modules {
                switch module {
                case .convolution(let input, let output, _, _, _, _): result += [input, output]
                case .batchNorm(let space, _): result.append(space)
                case .linear(let input, let output): result += [input, output]
                case .sequential(let body): visit(body)
                case .residual(let main, let shortcut, _): visit(main); visit(shortcut ?? [])
                case .denseConcat(let body, let output): visit(body); result.append(output)
                case .relu, .averagePool, .globalAveragePool, .flatten: break
                }
            }
        }
        for unit in units { visit(unit.modules) }
        return result
    }
}

/// Writes the architecture descriptions of the zoo.
struct ArchitectureDescriber {
    let image: ChannelSpace
    let classes: ChannelSpace

    func hidden(_ name: String, _ size: Int) -> ChannelSpace { ChannelSpace(name: name, size: size, scaling: .scaled) }

    func head(_ features: ChannelSpace, prefix: [NamedModule] = []) -> UnitDescription {
        UnitDescription(name: "head", kind: .head, modules: prefix + [
            (nil, .globalAveragePool), (nil, .flatten), ("linear", .linear(input: features, output: classes)),
        ])
    }

    /// CIFAR ResNet with BasicBlocks: stages of (channels, blocks, first stride). Each stage's residual stream is
    /// one channel space (the stem's for the first stage), each block's inner width another.
    func resnet(stages: [(Int, Int, Int)], stemChannels: Int) -> [UnitDescription] {
        var stream = hidden("conv1", stemChannels)
        var units = [UnitDescription(name: "conv1", kind: .stem, modules: [
            ("conv1", .conv(image, stream, kernel: 3, padding: 1)), ("bn1", .bnReLU(stream)),
        ])]
        for (stageIndex, (planes, blocks, firstStride)) in stages.enumerated() {
            for blockIndex in 0..<blocks {
                let name = "layer\(stageIndex + 1).\(blockIndex)"
                let stride = blockIndex == 0 ? firstStride : 1
                let inner = hidden(name + ".conv1", planes)
                let projects = stride != 1 || stream.size != planes
                let output = projects ? hidden(name, planes) : stream
                let main: [NamedModule] = [
                    ("conv1", .conv(stream, inner, kernel: 3, stride: stride, padding: 1)), ("bn1", .bnReLU(inner)),
                    ("conv2", .conv(inner, output, kernel: 3, padding: 1)), ("bn2", .bn(output)),
                ]
                let shortcut: [NamedModule]? = projects
                    ? [("0", .conv(stream, output, kernel: 1, stride: stride)), ("1", .bn(output))] : nil
                units.append(UnitDescription(name: name, kind: .block, modules: [
                    (name, .residual(main: main, shortcut: shortcut, postReLU: true)),
                ]))
                stream = output
            }
        }
        units.append(head(stream))
        return units
    }

    /// CIFAR MobileNetV2 as in the reference CIFAR implementation: stride 1 in the stem and the first two stages,
    /// ReLU activations (fused into the preceding BatchNorm). Each block's expanded width is a channel space; a
    /// stage's output stream is one space shared by its identity-shortcut blocks.
    func mobileNetV2() -> [UnitDescription] {
        let table = [(1, 16, 1, 1), (6, 24, 2, 1), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1), (6, 160, 3, 2), (6, 320, 1, 1)]
        var stream = hidden("conv1", 32)
        var units = [UnitDescription(name: "conv1", kind: .stem, modules: [
            ("conv1", .conv(image, stream, kernel: 3, padding: 1)), ("bn1", .bnReLU(stream)),
        ])]
        var index = 0
        for (expansion, outputChannels, repeats, firstStride) in table {
            for repeatIndex in 0..<repeats {
                let name = "layers.\(index)"
                let stride = repeatIndex == 0 ? firstStride : 1
                let expanded = hidden(name + ".conv1", expansion * stream.size)
                let identity = stride == 1 && stream.size == outputChannels
                let output = identity ? stream : hidden(name, outputChannels)
                let main: [NamedModule] = [
                    ("conv1", .conv(stream, expanded, kernel: 1)), ("bn1", .bnReLU(expanded)),
                    ("conv2", .depthwise(expanded, kernel: 3, stride: stride, padding: 1)), ("bn2", .bnReLU(expanded)),
                    ("conv3", .conv(expanded, output, kernel: 1)), ("bn3", .bn(output)),
                ]
                let block: ModuleDescription
                if stride == 1 {
                    let shortcut: [NamedModule]? = identity ? nil : [("0", .conv(stream, output, kernel: 1)), ("1", .bn(output))]
                    block = .residual(main: main, shortcut: shortcut, postReLU: false)
                } else {
                    block = .sequential(main)
                }
                units.append(UnitDescription(name: name, kind: .block, modules: [(name, block)]))
                stream = output
                index += 1
            }
        }
        let last = hidden("conv2", 1280)
        units.append(UnitDescription(name: "conv2", kind: .io, modules: [
            ("conv2", .conv(stream, last, kernel: 1)), ("bn2", .bnReLU(last)),
        ]))
        units.append(head(last))
        return units
    }

    /// CIFAR DenseNet with bottleneck layers (BN-ReLU-1×1-BN-ReLU-3×3), compression 0.5; each dense layer's output
    /// is concat([new features, input]), a concatenated channel space.
    func denseNet(growth: Int, layersPerStage: Int, stages: Int) -> [UnitDescription] {
        var stream = hidden("conv1", 2 * growth)
        var units = [UnitDescription(name: "conv1", kind: .stem, modules: [("conv1", .conv(image, stream, kernel: 3, padding: 1))])]
        for stage in 1...stages {
            for layerIndex in 0..<layersPerStage {
                let name = "dense\(stage).\(layerIndex)"
                let bottleneck = hidden(name + ".conv1", 4 * growth)
                let features = hidden(name + ".conv2", growth)
                let body: [NamedModule] = [
                    ("bn1", .bnReLU(stream)), ("conv1", .conv(stream, bottleneck, kernel: 1)),
                    ("bn2", .bnReLU(bottleneck)), ("conv2", .conv(bottleneck, features, kernel: 3, padding: 1)),
                ]
                let output = ChannelSpace(name: name, size: stream.size + growth, scaling: .concatenated)
                units.append(UnitDescription(name: name, kind: .block, modules: [(name, .denseConcat(body: body, output: output))]))
                stream = output
            }
            if stage < stages {
                let name = "trans\(stage)"
                let output = hidden(name, stream.size / 2)
                units.append(UnitDescription(name: name, kind: .transition, modules: [(name, .sequential([
                    ("bn", .bnReLU(stream)), ("conv", .conv(stream, output, kernel: 1)), (nil, .averagePool(kernel: 2)),
                ]))]))
                stream = output
            }
        }
        units.append(head(stream, prefix: [("bn", .bnReLU(stream))]))
        return units
    }
}

// MARK: Materialization

/// Creates the layers of an architecture description at a width ratio, in description order (which fixes the
/// order of random draws), while tracking the spatial size and the forward FLOPs per image.
struct ModelBuilder {
    let context: ComputeContext
    let widthRatio: Double
    var generator: SeededGenerator
    var size: (Int, Int)
    var flops = 0

    init(context: ComputeContext, seed: UInt64, inputShape: [Int], widthRatio: Double) {
        self.context = context
        self.widthRatio = widthRatio
        generator = SeededGenerator(seed: seed).derived("model-initialization")
        size = (inputShape[1], inputShape[2])
    }

    mutating func sequential(_ modules: [NamedModule]) throws -> Sequential {
        var layers: [(String?, Layer)] = []
        for (name, module) in modules { layers.append((name, try layer(module))) }
        return Sequential(layers)
    }

    mutating func layer(_ module: ModuleDescription) throws -> Layer {
        switch module {
        case .convolution(let input, let output, let kernel, let stride, let padding, let depthwise):
            let (inputChannels, outputChannels) = (input.width(ratio: widthRatio), output.width(ratio: widthRatio))
            let layer = try Conv2D(inputChannels: inputChannels, outputChannels: outputChannels, kernelSize: kernel,
                                   stride: stride, padding: padding, groups: depthwise ? inputChannels : 1,
                                   context: context, generator: &generator)
            flops += layer.forwardFLOPs(height: size.0, width: size.1)
            size = (layer.outputSize(size.0), layer.outputSize(size.1))
            return layer
        case .batchNorm(let space, let fusedReLU):
            return try BatchNorm2D(channels: space.width(ratio: widthRatio), fusedReLU: fusedReLU, context: context)
        case .relu:
            return ReLU(context: context)
        case .sequential(let modules):
            return try sequential(modules)
        case .residual(let main, let shortcut, let postReLU):
            let inputSize = size
            let mainLayer = try sequential(main)
            let outputSize = size
            size = inputSize
            let shortcutLayer = try shortcut.map { try sequential($0) }
            size = outputSize
            return Residual(main: mainLayer, shortcut: shortcutLayer, post: postReLU ? ReLU(context: context) : nil, context: context)
        case .denseConcat(let body, _):
            return DenseConcat(body: try sequential(body), context: context)
        case .averagePool(let kernel):
            size = (size.0 / kernel, size.1 / kernel)
            return AvgPool2D(kernelSize: kernel, context: context)
        case .globalAveragePool:
            size = (1, 1)
            return GlobalAvgPool2D(context: context)
        case .flatten:
            return Flatten(context: context)
        case .linear(let input, let output):
            let (features, classes) = (input.width(ratio: widthRatio), output.width(ratio: widthRatio))
            let layer = try Linear(inputFeatures: features, outputFeatures: classes, context: context, generator: &generator)
            flops += 2 * features * classes
            return layer
        }
    }
}
