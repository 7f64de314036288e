/* SwiftPM builds no C module from a header alone, so this file gives the ABI target a translation unit; it also
 * pins the one layout fact the host relies on before it checks anything else. */
#include <stddef.h>
#include "cocofl_plugin.h"

_Static_assert(offsetof(cocofl_plugin_descriptor, api_version) == 0,
               "the API version must be the descriptor's first field: the host reads it before anything else");
