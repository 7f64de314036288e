import CoCoFLCore
/// The map between a model's global parameters and one width-scaled sub-model (HeteroFL, FedRolex, Federated
/// Dropout): for every parameter key, the kept global indices along each axis of its PyTorch-shaped tensor.
///
/// Channel spaces come from the architecture description in the model zoo (the same one that builds the models),
/// and each space gets one index list, so connected tensors agree: a convolution's output channels, the BatchNorm
/// after it, the next convolution's input channels and every tensor of a residual stream. Axes: convolution
/// weights [output channels, input channels (the single in-group position `[0]` for depthwise), all kernel rows,
/// all kernel columns]; linear weights [all classes, input features]; BatchNorm vectors and biases [channels].
public struct SubModelMap: Sendable, Equatable {
    /// One parameter of the map.
    struct Entry: Sendable, Equatable {
        /// Shape in the full model.
        let globalShape: [Int]
        /// Per axis, the kept global indices in sub-tensor order.
        let indices: [[Int]]
        /// Shape in the sub-model.
        var shape: [Int] { indices.map(\.count) }
    }

    /// Architecture name.
    public let modelName: String
    /// The width ratio r: each hidden channel space keeps ⌈r·C⌉ channels.
    public let ratio: Double
    /// Which channels of each space are kept.
    public let selection: SubModelSelection
    /// Every parameter key (learnable parameters and BatchNorm buffers), in sorted order like `exportParameters()`.
    public let keys: [String]
    /// Per channel space name (`conv1`, `layer2.0`, `layer2.0.conv1`, …), the kept global channel indices.
    public let channelIndices: [String: [Int]]
    private let entries: [String: Entry]

    /// The map for model `modelName` with inputs [C, H, W] and `classes` classes at width `ratio` with `selection`.
    /// Throws for unknown models, ratios outside (0, 1] (the width ratio) and models that cannot be scaled.
    public init(modelName: String, inputShape: [Int], classes: Int, ratio: Double, selection: SubModelSelection) throws {
        let architecture = try ModelZoo.architecture(modelName, inputShape: inputShape, classes: classes)
        try architecture.validate(widthRatio: ratio)
        var spaceIndices: [String: [Int]] = [:]
        var entries: [String: Entry] = [:]
        for (key, axes) in architecture.parameterAxes() {
            let indices = axes.map { axis -> [Int] in
                switch axis {
                case .whole(let size):
                    return Array(0..<size)
                case .channels(let space):
                    if let known = spaceIndices[space.name] { return known }
                    let kept = selection.indices(count: space.width(ratio: ratio), of: space.size, space: space.name)
                    spaceIndices[space.name] = kept
                    return kept
                }
            }
            entries[key] = Entry(globalShape: axes.map(\.size), indices: indices)
        }
        self.modelName = modelName
        self.ratio = ratio
        self.selection = selection
        self.entries = entries
        self.keys = entries.keys.sorted()
        channelIndices = spaceIndices
    }

    /// Per axis, the global indices the sub-tensor of `key` covers (position i on an axis is global index
    /// `indices[axis][i]`), ready for the server's element-wise aggregation.
    public func indices(for key: String) throws -> [[Int]] { try entry(key).indices }

    /// Shape of `key` in the sub-model (that of `ModelZoo.make(…, widthRatio: ratio)`).
    public func shape(for key: String) throws -> [Int] { try entry(key).shape }

    /// Shape of `key` in the full model.
    public func globalShape(for key: String) throws -> [Int] { try entry(key).globalShape }

    /// Whether the sub-model is the whole model (every axis of every key keeps all indices in order).
    public var isFull: Bool { entries.values.allSatisfy { $0.shape == $0.globalShape } }

    /// The sub-model's parameters gathered from the full model's: same keys, sub-model shapes, in sorted key order.
    /// `global` must hold exactly the map's keys with the full model's shapes; errors name the key.
    public func extract(from global: [NamedArray]) throws -> [NamedArray] {
        var byKey: [String: NamedArray] = [:]
        for array in global {
            let expected = try entry(array.key).globalShape
            guard array.shape == expected, array.values.count == expected.reduce(1, *) else {
                throw ModelError("parameter '\(array.key)' has shape \(array.shape) (\(array.values.count) values); "
                    + "the full \(modelName) expects \(expected)")
            }
            guard byKey.updateValue(array, forKey: array.key) == nil else {
                throw ModelError("parameter key '\(array.key)' given twice")
            }
        }
        return try keys.map { key in
            guard let array = byKey[key] else {
                throw ModelError("parameter '\(key)' is missing from the global parameters of \(modelName); the "
                    + "sub-model needs every key of the full model")
            }
            let entry = entries[key]!
            return NamedArray(key: key, shape: entry.shape, values: Self.gather(array.values, shape: entry.globalShape, indices: entry.indices))
        }
    }

    private func entry(_ key: String) throws -> Entry {
        guard let entry = entries[key] else {
            throw ModelError("unknown parameter key '\(key)' for model \(modelName); expected keys like '\(keys.first ?? "")'")
        }
        return entry
    }

    /// The sub-tensor of a row-major tensor at the given per-axis indices. Trailing axes kept whole are copied as
    /// contiguous blocks, and runs of consecutive indices on the last partial axis as one block each.
    static func gather(_ source: [Float], shape: [Int], indices: [[Int]]) -> [Float] {
        let rank = shape.count
        var wholeTail = 0
        while wholeTail < rank, indices[rank - 1 - wholeTail].elementsEqual(0..<shape[rank - 1 - wholeTail]) { wholeTail += 1 }
        if wholeTail == rank { return source }
        let partial = rank - wholeTail - 1
        var strides = [Int](repeating: 1, count: rank)
        for axis in stride(from: rank - 2, through: 0, by: -1) { strides[axis] = strides[axis + 1] * shape[axis + 1] }
        let block = strides[partial]
        // Runs of consecutive global indices on the last partial axis: (first index, length).
        var runs: [(start: Int, length: Int)] = []
        for index in indices[partial] {
            if let last = runs.last, last.start + last.length == index {
                runs[runs.count - 1].length += 1
            } else {
                runs.append((index, 1))
            }
        }
        let outer = indices[..<partial]
        let outerCount = outer.reduce(1) { $0 * $1.count }
        var result = [Float](repeating: 0, count: indices[...partial].reduce(block) { $0 * $1.count })
        source.withUnsafeBufferPointer { input in
            result.withUnsafeMutableBufferPointer { output in
                var position = [Int](repeating: 0, count: partial)
                var written = 0
                for _ in 0..<outerCount {
                    var base = 0
                    for axis in 0..<partial { base += indices[axis][position[axis]] * strides[axis] }
                    for run in runs {
                        let count = run.length * block
                        (output.baseAddress! + written).update(from: input.baseAddress! + base + run.start * block, count: count)
                        written += count
                    }
                    // Advance the odometer over the outer axes, last axis fastest (row-major order).
                    var axis = partial - 1
                    while axis >= 0 {
                        position[axis] += 1
                        if position[axis] < indices[axis].count { break }
                        position[axis] = 0
                        axis -= 1
                    }
                }
            }
        }
        return result
    }
}

/// One axis of a parameter tensor as the sub-model machinery sees it.
enum ParameterAxis: Equatable {
    /// Channels of a channel space: the sub-model keeps the space's selected indices.
    case channels(ChannelSpace)
    /// An axis kept whole (kernel rows and columns, the single in-group channel of a depthwise weight).
    case whole(Int)

    /// Length in the full model.
    var size: Int {
        switch self {
        case .channels(let space): space.size
        case .whole(let size): size
        }
    }
}

extension Architecture {
    /// Every parameter key with the channel space (or whole length) of each axis of its PyTorch-shaped tensor.
    /// Checks that connected tensors share channel spaces: a convolution or BatchNorm reads the space its input
    /// carries, and both branches of a residual addition end in the same space.
    func parameterAxes() -> [(key: String, axes: [ParameterAxis])] {
        var result: [(key: String, axes: [ParameterAxis])] = []
        var names: [String: ChannelSpace] = [:]
        func record(_ key: String, _ axes: [ParameterAxis]) {
            for case .channels(let space) in axes {
                precondition(names.updateValue(space, forKey: space.name) ?? space == space,
                             "architecture \(name): two channel spaces are named '\(space.name)'")
            }
            result.append((key, axes))
        }
        func walk(_ modules: [NamedModule], prefix: String, input: ChannelSpace) -> ChannelSpace {
            modules.reduce(input) { space, named in
                walk(named.module, prefix: prefix + (named.name.map { $0 + "." } ?? ""), input: space)
            }
        }
        func walk(_ module: ModuleDescription, prefix: String, input: ChannelSpace) -> ChannelSpace {
            switch module {
            case .convolution(let from, let to, let kernel, _, _, let depthwise):
                precondition(from == input, "architecture \(name): \(prefix)weight reads space '\(from.name)' but its input is '\(input.name)'")
                precondition(!depthwise || from == to, "architecture \(name): depthwise \(prefix)weight must map a space onto itself")
                record(prefix + "weight", [.channels(to), depthwise ? .whole(1) : .channels(from), .whole(kernel), .whole(kernel)])
                return to
            case .batchNorm(let space, _):
                precondition(space == input, "architecture \(name): \(prefix)weight normalizes '\(space.name)' but its input is '\(input.name)'")
                for local in ["bias", "running_mean", "running_var", "weight"] { record(prefix + local, [.channels(space)]) }
                return space
            case .linear(let from, let to):
                precondition(from == input, "architecture \(name): \(prefix)weight reads '\(from.name)' but its input is '\(input.name)'")
                record(prefix + "weight", [.channels(to), .channels(from)])
                record(prefix + "bias", [.channels(to)])
                return to
            case .sequential(let modules):
                return walk(modules, prefix: prefix, input: input)
            case .residual(let main, let shortcut, _):
                let mainOutput = walk(main, prefix: prefix, input: input)
                let shortcutOutput = shortcut.map { walk($0, prefix: prefix + "shortcut.", input: input) } ?? input
                precondition(mainOutput == shortcutOutput,
                             "architecture \(name): the residual at \(prefix) adds spaces '\(mainOutput.name)' and '\(shortcutOutput.name)'")
                return mainOutput
            case .denseConcat(let body, let output):
                let features = walk(body, prefix: prefix, input: input)
                precondition(output.size == features.size + input.size, "architecture \(name): \(prefix) concatenates to the wrong size")
                return output
            case .relu, .averagePool, .globalAveragePool, .flatten:
                // Flatten only follows the global pooling here, so features are channels.
                return input
            }
        }
        _ = units.reduce(image) { space, unit in walk(unit.modules, prefix: "", input: space) }
        return result
    }
}
