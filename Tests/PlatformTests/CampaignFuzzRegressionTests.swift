import Foundation
import Platform
import Testing

/// Inputs found by `scripts/fuzz.sh` (FuzzCampaign) that crashed the campaign parser (docs/fuzzing.md). Each one
/// aborted the whole process inside toml++ (TOMLKit's C++ parser, built with assertions on: `parse_key(): Assertion
/// is_bare_key_character(*cp) || is_string_delimiter(*cp)`) before the pre-check in `Campaign.parse`.
@Test("A malformed table header is a one-line error naming the line, not an abort",
      arguments: ["[\u{FFFD}", "[é]", "description = \"x\"\n[ é]\n", "[[é]]\n", "[grid]\n[[.3, 0.8]  # x\n", "[#x\n",
                  "[{a=1}]\n", "[+1]\n", "[", "[[", "x = 1\n[,]\n"])
func malformedTableHeaderThrows(text: String) throws {
    let error = try #require(throws: CampaignError.self) { try Campaign.parse(text: text, path: "fuzz.toml") }
    let line = text.split(separator: "\n", omittingEmptySubsequences: false).lastIndex { $0.contains("[") }! + 1
    #expect("\(error)".hasPrefix("fuzz.toml:\(line): "), "\(error)")
    #expect("\(error)".contains("quote the name") && "\(error)".contains("table name"), "\(error)")
}

@Test("Valid TOML whose lines start with '[' inside arrays still parses up to the campaign's own checks")
func arrayLinesStartingWithBracketAreNotRefused() throws {
    // A multi-line array of arrays: its lines start with '[' followed by ASCII, which the pre-check leaves alone.
    let text = "x = [\n  [1, 2],\n  [ 3 ],\n  [+1], [{a = 1}], # [ in a comment\n  \"]\", ']'\n]\ny = \"\"\"\n[not a header\n\"\"\"\n"
    let error = try #require(throws: CampaignError.self) { try Campaign.parse(text: text, path: "ok.toml") }
    #expect(!"\(error)".contains("table name starts"), "\(error)")
}
