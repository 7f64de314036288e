/* The binary contract between the cocofl host and a strategy plugin library (docs/plugins.md).
 *
 * A plugin exports exactly one C symbol, COCOFL_PLUGIN_ENTRY_SYMBOL, of type cocofl_plugin_entry_function. The
 * host calls it once, reads `api_version` (always the first field, so that it can be read whatever the rest of the
 * layout became in another version) and refuses the plugin unless it equals its own COCOFL_PLUGIN_API_VERSION;
 * only then does it look at the other fields and call `register_strategies`.
 *
 * Swift plugins never fill this by hand: `PluginDescriptor.make(register:)` does, and it is emitted into the
 * plugin, so `api_version` is the version the plugin was compiled against, not the host's. */
#ifndef COCOFL_PLUGIN_H
#define COCOFL_PLUGIN_H

#include <stdint.h>

/* Bumped whenever any public declaration of CoCoFLCore or this header changes; plugins must then be rebuilt. */
#define COCOFL_PLUGIN_API_VERSION 3

/* The one symbol a plugin library exports. */
#define COCOFL_PLUGIN_ENTRY_SYMBOL "cocofl_plugin_entry"

typedef struct cocofl_plugin_descriptor {
    /* COCOFL_PLUGIN_API_VERSION as the plugin saw it at compile time. */
    int32_t api_version;
    /* Adds the plugin's strategies to `registrar`, an opaque `PluginRegistrar` owned by the host. */
    void (*register_strategies)(void *registrar);
    /* The type metadata of `PluginRegistrar` as the plugin links it: equal to the host's only when both use the one
     * shared libCoCoFLCore.so, which is how the host detects a plugin carrying its own copy of the API. */
    const void *api_identity;
} cocofl_plugin_descriptor;

/* The entry point's type: returns the plugin's descriptor, which stays valid for the life of the process. */
typedef const cocofl_plugin_descriptor *(*cocofl_plugin_entry_function)(void);

#endif
