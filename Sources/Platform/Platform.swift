// The strategy protocol, registry and aggregation value types live in the plugin API package (shared with plugins
// as one dynamic library); re-exported so that `import Platform` still brings them, as it did before they moved.
@_exported import CoCoFLPluginAPI

/// Namespace marker of the Platform module.
public enum PlatformModule {}
