/// A named array in PyTorch layout, the unit of export and import.
public struct NamedArray: Equatable, Sendable {
    /// The PyTorch `state_dict` key, e.g. `layer1.0.conv1.weight`.
    public var key: String
    /// The PyTorch shape (conv weights OIHW, linear weights [out, in]).
    public var shape: [Int]
    /// The values, row-major over `shape`.
    public var values: [Float]

    /// An array from its key, shape and values.
    public init(key: String, shape: [Int], values: [Float]) {
        self.key = key
        self.shape = shape
        self.values = values
    }
}
