import CoCoFLCore
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A strategy plugin library that cannot be used, or whose strategies clash with registered ones.
///
/// The message is one line: it names the library (and the strategy id, for clashes) and says what to do.
public struct PluginError: Error, Equatable, CustomStringConvertible, LocalizedError {
    /// The kind of problem, for callers and tests that tell them apart.
    public enum Kind: String, Sendable {
        /// No file at the given path.
        case missingFile
        /// `dlopen` failed; the message carries `dlerror()`'s text.
        case cannotOpen
        /// The library does not export `cocofl_plugin_entry`.
        case missingEntryPoint
        /// The entry point returned no descriptor.
        case missingDescriptor
        /// The plugin was built against another plugin API version.
        case versionMismatch
        /// The plugin carries its own copy of CoCoFLCore instead of using the shared library.
        case separateAPICopy
        /// The plugin registered no strategy.
        case noStrategies
        /// A strategy id the plugin registers is already taken.
        case duplicateStrategy
    }

    /// The kind of problem.
    public let kind: Kind
    /// The library's path as given.
    public let path: String
    /// The one-line message.
    public let description: String

    /// An error about the library at `path`.
    public init(_ kind: Kind, path: String, message: String) {
        self.kind = kind
        self.path = path
        self.description = message
    }

    /// The message, for Foundation and the command line.
    public var errorDescription: String? { description }
}

/// A plugin library that was opened, checked and asked for its strategies.
///
/// The library is never closed: its strategies' code and type metadata live in it for the rest of the process.
public struct LoadedPlugin: Sendable {
    /// The library's path as given (the command line's plugin option, a campaign file's `plugins`).
    public let path: String
    /// The strategies the plugin registered, in its order.
    public let entries: [StrategyEntry]
}

/// Opens strategy plugin libraries: `dlopen` with `RTLD_NOW | RTLD_LOCAL`, the one entry point
/// `cocofl_plugin_entry`, the API version check, then the plugin's register function (docs/plugins.md).
public enum PluginLoader {
    /// Loads the library at `path` and returns the strategies it registers. Throws a `PluginError` for a missing
    /// file, a library `dlopen` rejects, a missing entry point, another API version, a plugin with its own copy of
    /// the API, or a plugin that registers nothing.
    public static func load(path: String) throws -> LoadedPlugin {
        // dlopen searches the library path for a name without a slash, so the file is always named absolutely.
        let absolute = URL(fileURLWithPath: path).standardizedFileURL.path
        guard FileManager.default.fileExists(atPath: absolute) else {
            throw PluginError(
                .missingFile, path: path,
                message: "plugin library '\(path)' does not exist; build the plugin with `swift build -c release` "
                    + "in its package and pass the .so from its .build/release directory")
        }
        // RTLD_NOW: a plugin built against symbols this platform lacks fails here, with dlerror's name of the
        // symbol, not later in the middle of a run. RTLD_LOCAL: plugins cannot clash with each other's symbols.
        _ = dlerror()
        guard let handle = dlopen(absolute, RTLD_NOW | RTLD_LOCAL) else {
            let reason = dlerror().map { String(cString: $0) } ?? "unknown dlopen error"
            throw PluginError(
                .cannotOpen, path: path,
                message: "cannot load plugin library '\(path)': \(oneLine(reason)); rebuild the plugin with "
                    + "`swift build -c release` in its package against this platform's Core package")
        }
        guard let symbol = dlsym(handle, pluginEntrySymbol) else {
            throw PluginError(
                .missingEntryPoint, path: path,
                message: "'\(path)' does not export the plugin entry point '\(pluginEntrySymbol)'; define it with "
                    + "@_cdecl(\"\(pluginEntrySymbol)\") returning PluginDescriptor.make(register:) (docs/plugins.md)")
        }
        let entry = unsafeBitCast(symbol, to: cocofl_plugin_entry_function.self)
        guard let descriptor = entry() else {
            throw PluginError(
                .missingDescriptor, path: path,
                message: "the entry point '\(pluginEntrySymbol)' of '\(path)' returned no descriptor; return "
                    + "PluginDescriptor.make(register:) from it")
        }
        // The version is the first field whatever the rest of the layout is, so it is read before anything else.
        let version = UnsafeRawPointer(descriptor).load(as: Int32.self)
        guard version == pluginAPIVersion else {
            throw PluginError(
                .versionMismatch, path: path,
                message: "plugin '\(path)' was built against plugin API version \(version) but this cocofl has "
                    + "version \(pluginAPIVersion); rebuild the plugin against this platform's Core package")
        }
        guard descriptor.pointee.api_identity == PluginDescriptor.identity(of: PluginRegistrar.self) else {
            throw PluginError(
                .separateAPICopy, path: path,
                message: "plugin '\(path)' carries its own copy of CoCoFLCore, so its strategies would not be "
                    + "the host's types; depend on the CoCoFLCore product of the platform's Core package "
                    + "instead of copying its sources (docs/plugins.md)")
        }
        guard let register = descriptor.pointee.register_strategies else {
            throw PluginError(
                .missingDescriptor, path: path,
                message: "the descriptor of '\(path)' has no register function; build it with "
                    + "PluginDescriptor.make(register:)")
        }
        let registrar = PluginRegistrar()
        registrar.withOpaquePointer { register($0) }
        guard !registrar.entries.isEmpty else {
            throw PluginError(
                .noStrategies, path: path,
                message: "plugin '\(path)' registered no strategy; call registrar.register(_:) in its register "
                    + "function")
        }
        return LoadedPlugin(path: path, entries: registrar.entries)
    }

    /// dlerror text on one line (it is already one line in glibc; this keeps the promise if that changes).
    private static func oneLine(_ text: String) -> String {
        text.split(whereSeparator: \.isNewline).joined(separator: " ")
    }
}

/// A strategy catalog that remembers where each strategy came from (built in, or a plugin library's path), so
/// that listings show the source and a clash names both sides.
public struct StrategySources {
    /// What `source(of:)` says for strategies that were in the catalog before any plugin.
    public static let builtinSource = "built in"

    /// Every registered strategy.
    public private(set) var catalog: StrategyCatalog
    private var sourceByID: [String: String]
    private var loadedLibraries: Set<String> = []

    /// The strategies of `builtins`, all from `builtinSource`.
    public init(builtins: StrategyCatalog) {
        catalog = builtins
        sourceByID = Dictionary(uniqueKeysWithValues: builtins.ids.map { ($0, Self.builtinSource) })
    }

    /// Where the strategy `id` came from: `builtinSource` or a plugin's path; nil for unknown ids.
    public func source(of id: String) -> String? { sourceByID[id] }

    /// Adds a loaded plugin's strategies; throws (adding none of them) if an id is already registered.
    public mutating func add(_ plugin: LoadedPlugin) throws {
        var seen: [String: String] = [:]
        for entry in plugin.entries {
            if let other = sourceByID[entry.id] ?? seen[entry.id] {
                let owner = other == Self.builtinSource ? "is a built-in strategy" : "is already registered by '\(other)'"
                throw PluginError(
                    .duplicateStrategy, path: plugin.path,
                    message: "strategy '\(entry.id)' of plugin '\(plugin.path)' \(owner); give the plugin's strategy "
                        + "another id or load only one of the libraries")
            }
            seen[entry.id] = plugin.path
        }
        for entry in plugin.entries {
            try catalog.register(entry)
            sourceByID[entry.id] = plugin.path
        }
    }

    /// Loads every library in `paths`, in order, and adds its strategies. A library named twice (say in a
    /// campaign file and on the command line) is loaded once; two different files that register the same id
    /// are an error.
    public mutating func loadPlugins(_ paths: [String]) throws {
        for path in paths {
            let identity = URL(fileURLWithPath: path).standardizedFileURL.resolvingSymlinksInPath().path
            guard loadedLibraries.insert(identity).inserted else { continue }
            try add(try PluginLoader.load(path: path))
        }
    }
}
