// The value types the engine shares with strategies (NamedArray, TrainedWindow, ModelProfile, SeededGenerator, …)
// live in the plugin API package, so that plugins can use them without linking the engine. Re-exported so that
// `import NN` still brings them, as it did before they moved.
@_exported import CoCoFLPluginAPI
