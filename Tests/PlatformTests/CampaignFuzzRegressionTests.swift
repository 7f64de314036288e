import Foundation
import Platform
import Testing

/// Inputs found by `scripts/fuzz.sh` (FuzzCampaign) that crashed the campaign parser (docs/fuzzing.md).
///
/// Disabled until fixed: today the input aborts the whole test process inside toml++ (TOMLKit's C++ parser, built
/// with assertions on), `toml.hpp:15481 parse_key(): Assertion is_bare_key_character(*cp) ||
/// is_string_delimiter(*cp)` — a table header whose key starts with a non-ASCII character.
@Test(.disabled("aborts in toml++ parse_key; needs a pre-check in Campaign.parse, docs/fuzzing.md"))
func campaignTableHeaderStartingWithNonASCIICharacterThrows() {
    // Minimized by libFuzzer from bytes 5B 9B; the fuzz target decodes invalid UTF-8 as U+FFFD.
    #expect(throws: (any Error).self) {
        try Campaign.parse(text: "[\u{FFFD}", path: "fuzz.toml")
    }
}
