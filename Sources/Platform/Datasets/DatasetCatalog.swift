/// A source of one named dataset: the extension point for new formats (an HDF5 loader conforms and is registered
/// into a catalog next to the built-in ones).
public protocol DatasetLoader: Sendable {
    /// The stable name users pass on the command line and in campaign files, e.g. "fashion-mnist".
    var name: String { get }
    /// Where the files are looked for when the caller gives no directory.
    var defaultDirectory: String { get }
    /// Loads the training and test split from `directory`, throwing `DatasetError` for missing or damaged files.
    func load(directory: String) throws -> DatasetSplit
}

/// The datasets a run can name: an explicit registry value that maps names to loaders.
///
/// Library code takes the catalog as a parameter; `standard` holds the built-in loaders and tests build their own.
public struct DatasetCatalog: Sendable {
    private var loaders: [String: any DatasetLoader] = [:]

    /// An empty catalog.
    public init() {}

    /// A catalog holding `loaders`; throws if two share a name.
    public init(loaders: [any DatasetLoader]) throws {
        for loader in loaders { try register(loader) }
    }

    /// The built-in datasets: fashion-mnist, mnist (and both as 3×32×32), cifar10, cifar100 and femnist.
    public static let standard: DatasetCatalog = {
        do {
            return try DatasetCatalog(loaders: [
                IDXDatasetLoader.fashionMNIST, IDXDatasetLoader.mnist, PaddedGreyscaleDatasetLoader.fashionMNIST,
                PaddedGreyscaleDatasetLoader.mnist, CIFARDatasetLoader.cifar10,
                CIFARDatasetLoader.cifar100, FEMNISTDatasetLoader.femnist,
            ])
        } catch {
            preconditionFailure("built-in dataset names must be unique: \(error)")
        }
    }()

    /// Adds `loader`; throws if a loader with the same name is already registered.
    public mutating func register(_ loader: any DatasetLoader) throws {
        guard loaders[loader.name] == nil else {
            throw DatasetError(.duplicateDataset, path: nil,
                               message: "a dataset named \"\(loader.name)\" is already registered; give the new "
                                   + "loader another name")
        }
        loaders[loader.name] = loader
    }

    /// The registered names, sorted.
    public var names: [String] { loaders.keys.sorted() }

    /// The loader registered under `name`; throws listing the known names if there is none.
    public func loader(named name: String) throws -> any DatasetLoader {
        guard let loader = loaders[name] else {
            throw DatasetError(.unknownDataset, path: nil,
                               message: "unknown dataset \"\(name)\"; known datasets: \(names.joined(separator: ", "))")
        }
        return loader
    }

    /// Loads the dataset `name` from `directory`, or from the loader's default directory when it is nil.
    public func load(name: String, directory: String?) throws -> DatasetSplit {
        let loader = try loader(named: name)
        return try loader.load(directory: directory ?? loader.defaultDirectory)
    }

    /// Loads the built-in dataset `name` from `directory` (or its default directory) using `standard`.
    public static func load(name: String, directory: String?) throws -> DatasetSplit {
        try standard.load(name: name, directory: directory)
    }
}
