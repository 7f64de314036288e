import CoCoFLCore

/// The plugin's one exported C symbol: the host calls it, checks the descriptor's API version and then calls
/// `registerStrategies` with its registrar.
@_cdecl("cocofl_plugin_entry")
public func cocoflPluginEntry() -> UnsafeRawPointer {
    PluginDescriptor.make(register: registerStrategies)
}

/// Adds this plugin's strategies to the host's registrar.
private func registerStrategies(_ registrar: UnsafeMutableRawPointer?) {
    let plugin = PluginRegistrar.from(registrar)
    plugin.register(MaxWindowStrategy.entry)
    plugin.register(FedProxStrategy.entry)
}
