@_exported import CoCoFLPluginABI

/// The plugin API version of this build of the platform; the host refuses plugins built against another one.
public let pluginAPIVersion: Int32 = COCOFL_PLUGIN_API_VERSION

/// The one C symbol a plugin library exports (`cocofl_plugin_entry`).
public let pluginEntrySymbol: String = COCOFL_PLUGIN_ENTRY_SYMBOL

/// Collects the strategies a plugin registers. The host makes one per library and hands it to the plugin's
/// register function as an opaque pointer; the host, not the plugin, checks the ids against its catalog.
public final class PluginRegistrar {
    /// The strategies registered so far, in registration order.
    public private(set) var entries: [StrategyEntry] = []

    /// An empty registrar.
    public init() {}

    /// Adds one strategy.
    public func register(_ entry: StrategyEntry) {
        entries.append(entry)
    }

    /// The registrar behind the opaque pointer a register function receives.
    public static func from(_ pointer: UnsafeMutableRawPointer?) -> PluginRegistrar {
        guard let pointer else { preconditionFailure("the host passed no registrar to the plugin's register function") }
        return Unmanaged<PluginRegistrar>.fromOpaque(pointer).takeUnretainedValue()
    }

    /// Runs `body` with this registrar as the opaque pointer a register function takes; the registrar stays alive
    /// for the call.
    public func withOpaquePointer<Result>(_ body: (UnsafeMutableRawPointer) throws -> Result) rethrows -> Result {
        try withExtendedLifetime(self) { try body(Unmanaged.passUnretained(self).toOpaque()) }
    }
}

/// Builds the C descriptor (`cocofl_plugin_descriptor`, see cocofl_plugin.h) that a plugin's entry point returns.
public enum PluginDescriptor {
    /// A descriptor for `register`, stamped with the API version the plugin is compiled against.
    ///
    /// Emitted into the plugin (not called in the shared library) so that `COCOFL_PLUGIN_API_VERSION` is the value
    /// from the plugin's build: read through the shared library it would always be the host's and the check would
    /// prove nothing. The descriptor is allocated once per call and never freed; the host calls the entry point
    /// once per library and never unloads plugins.
    @_alwaysEmitIntoClient
    public static func make(register: @convention(c) (UnsafeMutableRawPointer?) -> Void) -> UnsafeRawPointer {
        let descriptor = UnsafeMutablePointer<cocofl_plugin_descriptor>.allocate(capacity: 1)
        descriptor.initialize(to: cocofl_plugin_descriptor(
            api_version: COCOFL_PLUGIN_API_VERSION, register_strategies: register,
            api_identity: PluginDescriptor.identity(of: PluginRegistrar.self)))
        return UnsafeRawPointer(descriptor)
    }

    /// The identity token of the copy of this module that defines `registrar`: its class metadata address.
    @_alwaysEmitIntoClient
    public static func identity(of registrar: PluginRegistrar.Type) -> UnsafeRawPointer {
        unsafeBitCast(registrar as AnyClass, to: UnsafeRawPointer.self)
    }
}
