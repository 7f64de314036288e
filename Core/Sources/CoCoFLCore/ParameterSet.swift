/// The global model's parameters as values: an ordered dictionary from PyTorch `state_dict` key to tensor.
///
/// Keys keep the order they were inserted in (the model's order); `exported()` returns them sorted by key, the
/// order checkpoints and uploads use. Every write checks the shape and names the key when it does not fit.
public struct ParameterSet: Equatable, Sendable {
    /// Keys in insertion order.
    public private(set) var keys: [String]
    private var storage: [String: NamedArray]

    /// An empty set.
    public init() {
        keys = []
        storage = [:]
    }

    /// A set holding `arrays` in the given order; throws on a repeated key or a value count that does not match
    /// the shape.
    public init(_ arrays: [NamedArray]) throws {
        self.init()
        for array in arrays { try insert(array) }
    }

    /// Number of tensors.
    public var count: Int { keys.count }

    /// Whether the set holds no tensors.
    public var isEmpty: Bool { keys.isEmpty }

    /// Total number of scalar values over all tensors.
    public var elementCount: Int { storage.values.reduce(0) { $0 + $1.values.count } }

    /// The tensors in insertion order.
    public var arrays: [NamedArray] { keys.map { storage[$0]! } }

    /// The tensor for `key`, or nil if the set has no such key.
    public subscript(key: String) -> NamedArray? { storage[key] }

    /// Whether the set has a tensor for `key`.
    public func contains(_ key: String) -> Bool { storage[key] != nil }

    /// The tensor for `key`; throws naming the key (and a few known keys) if it is missing.
    public func array(_ key: String) throws -> NamedArray {
        guard let array = storage[key] else { throw unknownKeyError(key) }
        return array
    }

    /// Adds a new tensor at the end; throws if the key is already present or the values do not fit the shape.
    public mutating func insert(_ array: NamedArray) throws {
        guard storage[array.key] == nil else {
            throw AggregationError(
                .duplicateKey, key: array.key,
                message: "parameter '\(array.key)' appears twice; each state_dict key must occur once")
        }
        try validateValueCount(array)
        keys.append(array.key)
        storage[array.key] = array
    }

    /// Replaces the values of an existing tensor; throws if the key is unknown or `array` has another shape.
    public mutating func update(_ array: NamedArray) throws {
        let current = try self.array(array.key)
        guard current.shape == array.shape else {
            throw AggregationError(
                .shapeMismatch, key: array.key,
                message: "parameter '\(array.key)' has shape \(current.shape) in the global model but \(array.shape) "
                    + "in the update; the update must come from the same model architecture")
        }
        try validateValueCount(array)
        storage[array.key] = array
    }

    /// Replaces the values of an existing tensor, keeping its shape; throws if the key is unknown or the count
    /// differs.
    public mutating func setValues(_ values: [Float], for key: String) throws {
        var array = try self.array(key)
        array.values = values
        try update(array)
    }

    /// The tensors sorted by key, as checkpoints and the model's `update(parameters:)` take them.
    public func exported() -> [NamedArray] {
        keys.sorted().map { storage[$0]! }
    }

    /// Same keys, shapes and values regardless of insertion order.
    public static func == (lhs: ParameterSet, rhs: ParameterSet) -> Bool {
        lhs.storage == rhs.storage
    }

    /// Runs `body` on the mutable values of an existing tensor, so that an aggregation rule writes in place instead
    /// of copying every tensor; throws naming the key if it is missing.
    public mutating func withMutableValues<Result>(
        of key: String, _ body: (inout [Float]) throws -> Result
    ) throws -> Result {
        guard var array = storage[key] else { throw unknownKeyError(key) }
        storage[key] = nil  // keeps the values uniquely referenced so the write does not copy
        defer { storage[key] = array }
        return try body(&array.values)
    }

    private func unknownKeyError(_ key: String) -> AggregationError {
        let known = keys.sorted()
        let listed = known.prefix(8).joined(separator: ", ") + (known.count > 8 ? ", … (\(known.count) keys)" : "")
        return AggregationError(
            .unknownKey, key: key,
            message: "parameter '\(key)' is not in the global model (known keys: \(known.isEmpty ? "none" : listed)); "
                + "uploads must use the global model's state_dict keys")
    }
}
