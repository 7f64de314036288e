/// Which global indices one axis of an uploaded tensor covers.
///
/// Full tensors (CoCoFL, FedAvg) cover `.all` indices of every axis; width-scaled sub-models (HeteroFL, FedRolex,
/// Federated Dropout) list the global indices of the channels they kept, in the order the sub-tensor stores them.
public enum AxisCoverage: Equatable, Hashable, Sendable {
    /// Every global index of the axis, in order: the sub-tensor has the global length on this axis.
    case all
    /// The listed global indices: sub-tensor position i on this axis is global index `indices[i]`.
    case indices([Int])

    /// The first `count` indices (HeteroFL's ⌈r·C⌉ leading channels).
    public static func prefix(_ count: Int) -> AxisCoverage {
        .indices(Array(0..<max(count, 0)))
    }

    /// `count` consecutive indices starting at `start`, wrapping around modulo `dimension` (FedRolex's rolling
    /// window).
    public static func window(start: Int, count: Int, dimension: Int) -> AxisCoverage {
        precondition(dimension > 0, "a rolling window needs a positive axis length")
        let first = ((start % dimension) + dimension) % dimension
        return .indices((0..<max(count, 0)).map { (first + $0) % dimension })
    }

    /// Number of positions the sub-tensor has on this axis when the global axis has `dimension` entries.
    public func length(globalDimension dimension: Int) -> Int {
        switch self {
        case .all: dimension
        case .indices(let indices): indices.count
        }
    }

    /// The covered global indices of an axis of length `dimension`.
    public func globalIndices(dimension: Int) -> [Int] {
        switch self {
        case .all: Array(0..<dimension)
        case .indices(let indices): indices
        }
    }
}

/// One tensor of a device's upload: its values and, per axis, which global indices they belong to.
///
/// A full tensor is the case where every axis is `.all`; then `shape` equals the global shape.
public struct TensorUpdate: Equatable, Sendable {
    /// The PyTorch `state_dict` key of the global tensor this updates.
    public var key: String
    /// The shape of `values` (the sub-tensor's shape), row-major.
    public var shape: [Int]
    /// The sub-tensor's values, row-major over `shape`.
    public var values: [Float]
    /// Per axis, the global indices the sub-tensor covers; one entry per dimension of `shape`.
    public var coverage: [AxisCoverage]

    /// A sub-tensor covering the given global indices per axis.
    public init(key: String, shape: [Int], values: [Float], coverage: [AxisCoverage]) {
        self.key = key
        self.shape = shape
        self.values = values
        self.coverage = coverage
    }

    /// A full tensor: every axis covers all indices.
    public init(full array: NamedArray) {
        self.init(
            key: array.key, shape: array.shape, values: array.values,
            coverage: Array(repeating: .all, count: array.shape.count))
    }

    /// Whether every axis covers all indices (a CoCoFL / FedAvg upload).
    public var isFull: Bool { coverage.allSatisfy { $0 == .all } }

    /// The values as a full-shape array; nil unless `isFull`.
    public var fullArray: NamedArray? {
        isFull ? NamedArray(key: key, shape: shape, values: values) : nil
    }

    /// Checks this update against the global tensor: same rank, index lists in range and free of repeats,
    /// `shape` equal to the index lists' lengths, and as many values as `shape` holds. Throws naming the key.
    public func validate(against global: NamedArray) throws {
        guard key == global.key else {
            throw AggregationError(
                .unknownKey, key: key,
                message: "update for parameter '\(key)' was checked against '\(global.key)'; match uploads by key")
        }
        guard shape.count == global.shape.count, coverage.count == global.shape.count else {
            throw AggregationError(
                .shapeMismatch, key: key,
                message: "parameter '\(key)' has rank \(global.shape.count) (shape \(global.shape)) but the upload has "
                    + "shape \(shape) with \(coverage.count) index lists; give one index list (or .all) per axis")
        }
        for axis in 0..<shape.count {
            let dimension = global.shape[axis]
            let expectedLength = coverage[axis].length(globalDimension: dimension)
            guard shape[axis] == expectedLength else {
                throw AggregationError(
                    .shapeMismatch, key: key,
                    message: "parameter '\(key)': the upload's shape \(shape) has \(shape[axis]) entries on axis "
                        + "\(axis) but its index list covers \(expectedLength) of the global \(dimension); "
                        + "the sub-tensor must have one entry per listed index")
            }
            if case .indices(let indices) = coverage[axis] {
                var seen = Set<Int>()
                for index in indices {
                    guard index >= 0, index < dimension else {
                        throw AggregationError(
                            .invalidIndex, key: key,
                            message: "parameter '\(key)': index \(index) on axis \(axis) is outside 0..<\(dimension) "
                                + "(global shape \(global.shape)); wrap rolling windows modulo the axis length")
                    }
                    guard seen.insert(index).inserted else {
                        throw AggregationError(
                            .invalidIndex, key: key,
                            message: "parameter '\(key)': index \(index) appears twice on axis \(axis); each global "
                                + "channel may be covered once per upload")
                    }
                }
            }
        }
        guard let expected = elementCount(of: shape), values.count == expected else {
            throw AggregationError(
                .shapeMismatch, key: key,
                message: "parameter '\(key)': the upload has shape \(shape) but holds \(values.count) values; "
                    + "send the sub-tensor's values row-major over its shape")
        }
    }
}

/// What one device uploads after a round: the tensors it trained, the quantization scales it observed, and how
/// many samples it trained on.
///
/// CoCoFL and FedAvg devices upload full tensors for the keys they trained; width-scaled devices (HeteroFL family)
/// upload sub-tensors with their index lists. Keys a device did not train are simply absent.
public struct PartialUpdate: Equatable, Sendable {
    /// The uploading device's index in the population.
    public var deviceID: Int
    /// The number of training samples the device used (for optional sample-count weighting).
    public var sampleCount: Int
    /// The uploaded tensors by key.
    public private(set) var tensors: [String: TensorUpdate]
    /// Named scalars the device observed, such as quantization scales (`blocks.3.output_scale`).
    public var scalars: [String: Float]

    /// An upload of sub-tensors (or full tensors); throws if a key appears twice.
    public init(deviceID: Int, sampleCount: Int, tensors: [TensorUpdate], scalars: [String: Float] = [:]) throws {
        self.deviceID = deviceID
        self.sampleCount = sampleCount
        self.scalars = scalars
        self.tensors = [:]
        for tensor in tensors {
            guard self.tensors.updateValue(tensor, forKey: tensor.key) == nil else {
                throw AggregationError(
                    .duplicateKey, key: tensor.key,
                    message: "device \(deviceID) uploads parameter '\(tensor.key)' twice; upload each key once")
            }
        }
    }

    /// An upload of full tensors (CoCoFL, FedAvg); throws if a key appears twice.
    public init(deviceID: Int, sampleCount: Int, parameters: [NamedArray], scalars: [String: Float] = [:]) throws {
        try self.init(
            deviceID: deviceID, sampleCount: sampleCount, tensors: parameters.map(TensorUpdate.init(full:)),
            scalars: scalars)
    }

    /// The uploaded keys, sorted.
    public var keys: [String] { tensors.keys.sorted() }

    /// Whether the device uploaded nothing (it took part but trained no parameter, or could not train).
    public var isEmpty: Bool { tensors.isEmpty }

    /// The uploaded tensor for `key`, or nil.
    public subscript(key: String) -> TensorUpdate? { tensors[key] }

    /// Adds or replaces one uploaded tensor.
    public mutating func set(_ tensor: TensorUpdate) {
        tensors[tensor.key] = tensor
    }
}
