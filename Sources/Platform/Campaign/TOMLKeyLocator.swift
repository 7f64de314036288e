/// The line on which each key, table header and array element of a TOML document is written.
///
/// TOMLKit reports positions only for syntax errors; the values it returns carry none. Campaign errors must still
/// point at a line, so this scans the text once and records where every key path starts. It assumes the document
/// already parsed (TOMLKit checked the syntax) and never throws: on text it does not understand it stops and the
/// remaining keys simply have no line.
///
/// A path is a list of components: table keys as written (unquoted), and array positions as "[0]", "[1]", … so
/// that `[[mixes.small.groups]]` entries and inline array elements are addressed the same way
/// (`["mixes", "small", "groups", "[1]", "share"]`).
struct TOMLKeyLocator: Sendable {
    private var lines: [[String]: Int] = [:]

    /// Scans `text` and records the line of every key path it defines.
    init(text: String) {
        var scanner = Scanner(bytes: Array(text.utf8))
        var currentTable: [String] = []
        // Number of entries seen so far for each array of tables, by resolved path.
        var arrayTableCounts: [[String]: Int] = [:]

        /// A header's key path with every prefix that names an array of tables pointing at its last entry, which
        /// is what TOML means by `[a.b]` after `[[a]]`.
        func resolve(_ keys: [String]) -> [String] {
            var resolved: [String] = []
            for key in keys {
                resolved.append(key)
                if let count = arrayTableCounts[resolved], count > 0 { resolved.append("[\(count - 1)]") }
            }
            return resolved
        }

        while true {
            scanner.skipWhitespaceAndComments(includingNewlines: true)
            guard let byte = scanner.peek else { break }
            let line = scanner.line
            if byte == UInt8(ascii: "[") {
                scanner.advance()
                let isArrayOfTables = scanner.peek == UInt8(ascii: "[")
                if isArrayOfTables { scanner.advance() }
                guard let keys = scanner.readKeyPath(), !keys.isEmpty else { break }
                if isArrayOfTables {
                    let base = resolve(Array(keys.dropLast())) + [keys[keys.count - 1]]
                    let index = arrayTableCounts[base, default: 0]
                    arrayTableCounts[base] = index + 1
                    currentTable = base + ["[\(index)]"]
                } else {
                    currentTable = resolve(keys)
                }
                record(currentTable, line: line)
                scanner.skipRestOfLine()
            } else {
                guard let keys = scanner.readKeyPath(), !keys.isEmpty else { break }
                scanner.skipWhitespaceAndComments(includingNewlines: false)
                guard scanner.peek == UInt8(ascii: "=") else { break }
                scanner.advance()
                let path = currentTable + keys
                record(path, line: line)
                readValue(&scanner, path: path)
            }
        }
    }

    /// The line of `path`, or of its nearest enclosing key, table or array element that has one.
    ///
    /// A key that is missing thus points at its table's header, and a value inside an inline table at the line of
    /// the key that holds it.
    func line(of path: [String]) -> Int? {
        var path = path
        while !path.isEmpty {
            if let line = lines[path] { return line }
            path.removeLast()
        }
        return nil
    }

    /// Records `path` and every prefix not seen before; the first mention wins, so a table defined implicitly by
    /// a dotted header or key points where it first appears.
    private mutating func record(_ path: [String], line: Int) {
        for length in 1...max(path.count, 1) where length <= path.count {
            let prefix = Array(path.prefix(length))
            if lines[prefix] == nil { lines[prefix] = line }
        }
    }

    /// Skips one value, recording the lines of array elements and inline-table keys inside it.
    private mutating func readValue(_ scanner: inout Scanner, path: [String]) {
        scanner.skipWhitespaceAndComments(includingNewlines: false)
        guard let byte = scanner.peek else { return }
        switch byte {
        case UInt8(ascii: "\""), UInt8(ascii: "'"):
            scanner.skipString()
        case UInt8(ascii: "["):
            scanner.advance()
            var index = 0
            while true {
                scanner.skipWhitespaceAndComments(includingNewlines: true)
                guard let next = scanner.peek else { return }
                if next == UInt8(ascii: "]") {
                    scanner.advance()
                    return
                }
                let elementPath = path + ["[\(index)]"]
                record(elementPath, line: scanner.line)
                let start = scanner.position
                readValue(&scanner, path: elementPath)
                scanner.skipWhitespaceAndComments(includingNewlines: true)
                if scanner.peek == UInt8(ascii: ",") { scanner.advance() }
                if scanner.position == start { return }
                index += 1
            }
        case UInt8(ascii: "{"):
            scanner.advance()
            while true {
                scanner.skipWhitespaceAndComments(includingNewlines: false)
                guard let next = scanner.peek else { return }
                if next == UInt8(ascii: "}") {
                    scanner.advance()
                    return
                }
                let line = scanner.line
                guard let keys = scanner.readKeyPath(), !keys.isEmpty else { return }
                scanner.skipWhitespaceAndComments(includingNewlines: false)
                guard scanner.peek == UInt8(ascii: "=") else { return }
                scanner.advance()
                record(path + keys, line: line)
                readValue(&scanner, path: path + keys)
                scanner.skipWhitespaceAndComments(includingNewlines: false)
                if scanner.peek == UInt8(ascii: ",") { scanner.advance() }
            }
        default:
            // Numbers, booleans and dates (which may contain a space) end at a separator, a comment or the line end.
            while let next = scanner.peek, ![UInt8(ascii: ","), UInt8(ascii: "]"), UInt8(ascii: "}"),
                                             UInt8(ascii: "\n"), UInt8(ascii: "#")].contains(next) {
                scanner.advance()
            }
        }
    }
}

/// A cursor over UTF-8 bytes that counts lines; every structural TOML character is ASCII.
private struct Scanner {
    let bytes: [UInt8]
    private(set) var position = 0
    private(set) var line = 1

    init(bytes: [UInt8]) { self.bytes = bytes }

    var peek: UInt8? { position < bytes.count ? bytes[position] : nil }

    func peek(offset: Int) -> UInt8? { position + offset < bytes.count ? bytes[position + offset] : nil }

    mutating func advance() {
        guard position < bytes.count else { return }
        if bytes[position] == UInt8(ascii: "\n") { line += 1 }
        position += 1
    }

    /// Skips spaces, tabs, carriage returns and `#` comments, and newlines too when asked.
    mutating func skipWhitespaceAndComments(includingNewlines: Bool) {
        while let byte = peek {
            if byte == UInt8(ascii: " ") || byte == UInt8(ascii: "\t") || byte == UInt8(ascii: "\r") {
                advance()
            } else if byte == UInt8(ascii: "\n") && includingNewlines {
                advance()
            } else if byte == UInt8(ascii: "#") {
                while let next = peek, next != UInt8(ascii: "\n") { advance() }
            } else {
                return
            }
        }
    }

    mutating func skipRestOfLine() {
        while let byte = peek, byte != UInt8(ascii: "\n") { advance() }
    }

    /// Reads `a.b."c d"` (bare or quoted parts, optional spaces around dots); nil if no key starts here.
    mutating func readKeyPath() -> [String]? {
        var keys: [String] = []
        while true {
            skipWhitespaceAndComments(includingNewlines: false)
            guard let byte = peek else { return keys.isEmpty ? nil : keys }
            if byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "'") {
                keys.append(readQuotedKey(quote: byte))
            } else {
                let start = position
                while let next = peek, Self.isBareKeyByte(next) { advance() }
                guard position > start else { return nil }
                keys.append(String(decoding: bytes[start..<position], as: UTF8.self))
            }
            skipWhitespaceAndComments(includingNewlines: false)
            guard peek == UInt8(ascii: ".") else { return keys }
            advance()
        }
    }

    /// A quoted key's text; basic-string escapes other than `\"` and `\\` are kept as written, which only matters
    /// for keys nobody writes in a campaign file.
    private mutating func readQuotedKey(quote: UInt8) -> String {
        advance()
        var text: [UInt8] = []
        while let byte = peek, byte != quote, byte != UInt8(ascii: "\n") {
            if quote == UInt8(ascii: "\""), byte == UInt8(ascii: "\\"), let escaped = peek(offset: 1),
               escaped == UInt8(ascii: "\"") || escaped == UInt8(ascii: "\\") {
                advance()
                text.append(escaped)
            } else {
                text.append(byte)
            }
            advance()
        }
        advance()
        return String(decoding: text, as: UTF8.self)
    }

    /// Skips a basic or literal string, single-line or multi-line, counting the newlines inside it.
    mutating func skipString() {
        guard let quote = peek else { return }
        let isMultiline = peek(offset: 1) == quote && peek(offset: 2) == quote
        if isMultiline {
            advance(); advance(); advance()
            while peek != nil {
                if quote == UInt8(ascii: "\""), peek == UInt8(ascii: "\\") {
                    advance(); advance()
                } else if peek == quote, peek(offset: 1) == quote, peek(offset: 2) == quote {
                    advance(); advance(); advance()
                    // Up to two more quotes may belong to the content (`""""" ` ends with two quotes inside).
                    while peek == quote { advance() }
                    return
                } else {
                    advance()
                }
            }
        } else {
            advance()
            while let byte = peek, byte != UInt8(ascii: "\n") {
                if quote == UInt8(ascii: "\""), byte == UInt8(ascii: "\\") {
                    advance(); advance()
                } else if byte == quote {
                    advance()
                    return
                } else {
                    advance()
                }
            }
        }
    }

    private static func isBareKeyByte(_ byte: UInt8) -> Bool {
        (byte >= UInt8(ascii: "a") && byte <= UInt8(ascii: "z")) || (byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z"))
            || (byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9")) || byte == UInt8(ascii: "_")
            || byte == UInt8(ascii: "-")
    }
}
