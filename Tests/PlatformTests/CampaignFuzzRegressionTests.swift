import Foundation
import Platform
import Testing

/// Inputs found by `scripts/fuzz.sh` (FuzzCampaign) that crashed the campaign parser (docs/fuzzing.md). Each one
/// aborted the whole process inside toml++ (TOMLKit's C++ parser, built with assertions on: `parse_key(): Assertion
/// is_bare_key_character(*cp) || is_string_delimiter(*cp)`, `parse_value(): !is_value_terminator(*cp)`) before
/// `Campaign.parse` ran `TOMLSyntaxCheck` first.
@Test("A malformed table header is a one-line error naming the line, not an abort",
      arguments: ["[\u{FFFD}", "[é]", "description = \"x\"\n[ é]\n", "[[é]]\n", "[grid]\n[[.3, 0.8]  # x\n", "[#x\n",
                  "[{a=1}]\n", "[+1]\n", "[", "[[", "x = 1\n[,]\n"])
func malformedTableHeaderThrows(text: String) throws {
    let error = try #require(throws: CampaignError.self) { try Campaign.parse(text: text, path: "fuzz.toml") }
    let line = text.split(separator: "\n", omittingEmptySubsequences: false).lastIndex { $0.contains("[") }! + 1
    #expect("\(error)".hasPrefix("fuzz.toml:\(line): "), "\(error)")
    #expect("\(error)".contains("invalid TOML") && "\(error)".contains("table name"), "\(error)")
}

@Test("Valid TOML whose lines start with '[' inside arrays still parses up to the campaign's own checks")
func arrayLinesStartingWithBracketAreNotRefused() throws {
    // A multi-line array of arrays: its lines start with '[' followed by ASCII, which the pre-check leaves alone.
    let text = "x = [\n  [1, 2],\n  [ 3 ],\n  [+1], [{a = 1}], # [ in a comment\n  \"]\", ']'\n]\ny = \"\"\"\n[not a header\n\"\"\"\n"
    let error = try #require(throws: CampaignError.self) { try Campaign.parse(text: text, path: "ok.toml") }
    #expect(!"\(error)".contains("table name starts"), "\(error)")
}

@Test("Malformed values are one-line errors naming line and column, not aborts",
      arguments: [("upload = [}0.3, 0.8]", 1, 11), ("[run]\nx = [1,,2]", 2, 8), ("x = {a = 1,}", 1, 12),
                  ("x = 1.", 1, 7), ("x = \"a\\q\"", 1, 8), ("x = [1 2]", 1, 8), ("x = 'open", 1, 10),
                  ("x = 007", 1, 5), ("x = 1__0", 1, 7), ("x = \"\"\"never closed", 1, 20),
                  ("x = {a = 1\n}", 1, 11), ("x = 1979-05-2", 1, 14), ("x = tru", 1, 5), ("x = +0x1", 1, 7),
                  ("a = 1 b = 2", 1, 7), ("x =", 1, 4), ("= 1", 1, 1), ("x = [\n1,\n", 3, 1)])
func malformedValueThrows(text: String, line: Int, column: Int) throws {
    let error = try #require(throws: CampaignError.self) { try Campaign.parse(text: text, path: "fuzz.toml") }
    #expect("\(error)".hasPrefix("fuzz.toml:\(line): invalid TOML at column \(column): "), "\(error)")
}

@Test("Every TOML 1.0 construct passes the syntax check and reaches the campaign's own checks")
func validTOMLPassesTheSyntaxCheck() throws {
    // The examples of the TOML 1.0 specification's sections, in one document.
    let text = "\u{FEFF}# comment\r\n" + #"""
    title = "TOML \"quoted\" \u00E9 \U0001F600 tab\t"
    'literal key' = 'C:\Users\x'
    "basic key".bare-key_2 . 'lit' = 1
    multi = """
    Roses are red \
        Violets are blue
    two quotes "" inside"""""
    multilit = '''
    raw \n ''text'' '''''
    ints = [+99, 42, 0, -17, 1_000, 0xDEAD_beef, 0o755, 0b1101, -0, +0]
    floats = [+1.0, 3.1415, -0.01, 5e+22, 1e06, -2E-2, 6.626e-34, 224_617.445_991, inf, -inf, +nan, nan]
    bools = [true, false]
    dates = [1979-05-27T07:32:00Z, 1979-05-27T00:32:00.999999-07:00, 1979-05-27 07:32:00Z, 1979-05-27T07:32:00,
             1979-05-27, 07:32:00, 00:32:00.999999, 1979-05-27t07:32:00z]
    nested = [ [ 1, 2 ], ["a", 'b'], [ { x = 1 }, {} ], ]  # trailing comma
    multiline = [
      1,  # one
      # a comment line
      2
    ]
    point = { x = 1, y.z = 2, "q" = { r = [1, 2] } }
    [table . "sub" . 'x']
    key = "value"
    [[array]]
    name = "first"
    [[ array ]]  # spaces inside the brackets
    name = "second"
    [array.sub]
    """#
    let error = try #require(throws: CampaignError.self) { try Campaign.parse(text: text, path: "valid.toml") }
    #expect(!"\(error)".contains("invalid TOML"), "\(error)")
}
