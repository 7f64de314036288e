/// A syntax check of a TOML 1.0 document, run before TOMLKit sees the text.
///
/// toml++ (the C++ parser inside TOMLKit) is built with its assertions on, and several of its parser paths assert
/// on malformed text instead of reporting an error, which aborts the whole process (found by scripts/fuzz.sh:
/// `[é]`, `[.3`, `upload = [}0.3, 0.8]`, …). This check walks the grammar of TOML 1.0
/// (https://toml.io/en/v1.0.0, the ABNF) over the bytes and reports the first place the text leaves it, so that
/// toml++ only ever parses syntactically valid documents. It checks syntax only: duplicate keys, redefined tables,
/// out-of-range numbers and impossible dates are left to toml++, which reports those as errors.
struct TOMLSyntaxCheck {
    /// Where and why the text is not TOML.
    struct Failure: Error, Equatable {
        /// 1-based line and column (in bytes) of the first byte that does not fit.
        let line: Int
        let column: Int
        /// What was expected there, written for the user.
        let message: String
    }

    private let bytes: [UInt8]
    private var position = 0
    private var line = 1
    private var lineStart = 0

    /// Checks `text`; throws the first `Failure`.
    static func check(_ text: String) throws(Failure) {
        var checker = TOMLSyntaxCheck(bytes: Array(text.utf8))
        try checker.document()
    }

    private init(bytes: [UInt8]) { self.bytes = bytes }

    // MARK: Bytes

    private var peek: UInt8? { position < bytes.count ? bytes[position] : nil }

    private func peek(_ offset: Int) -> UInt8? {
        position + offset < bytes.count ? bytes[position + offset] : nil
    }

    private func failure(_ message: String) -> Failure {
        Failure(line: line, column: position - lineStart + 1, message: message)
    }

    private mutating func advance(_ count: Int = 1) { position += count }

    private func at(_ text: String) -> Bool {
        let utf8 = Array(text.utf8)
        return position + utf8.count <= bytes.count && bytes[position..<position + utf8.count].elementsEqual(utf8)
    }

    /// Consumes a newline (`\n` or `\r\n`) if one is next.
    private mutating func newline() throws(Failure) -> Bool {
        if peek == 0x0A {
            advance()
        } else if peek == 0x0D {
            guard peek(1) == 0x0A else { throw failure("a carriage return must be followed by a line feed") }
            advance(2)
        } else {
            return false
        }
        line += 1
        lineStart = position
        return true
    }

    private mutating func whitespace() {
        while peek == 0x20 || peek == 0x09 { advance() }
    }

    /// A comment's body may hold tabs and any character but other control characters.
    private mutating func comment() throws(Failure) {
        guard peek == UInt8(ascii: "#") else { return }
        advance()
        while let byte = peek, byte != 0x0A, byte != 0x0D {
            guard !Self.isControl(byte) else { throw failure("a control character is not allowed in a comment") }
            advance()
        }
    }

    /// Whitespace, comments and newlines, as between the elements of an array.
    private mutating func whitespaceCommentsAndNewlines() throws(Failure) {
        while true {
            whitespace()
            try comment()
            guard try newline() else { return }
        }
    }

    /// The end of an expression: optional whitespace and comment, then a newline or the end of the text.
    private mutating func endOfLine(after what: String) throws(Failure) {
        whitespace()
        try comment()
        guard peek == nil || newlineFollows else {
            throw failure("expected the end of the line after \(what); put one key = value or [table] per line")
        }
        _ = try newline()
    }

    private var newlineFollows: Bool { peek == 0x0A || peek == 0x0D }

    private static func isControl(_ byte: UInt8) -> Bool { (byte < 0x20 && byte != 0x09) || byte == 0x7F }
    private static func isDigit(_ byte: UInt8?) -> Bool { byte.map { $0 >= 0x30 && $0 <= 0x39 } ?? false }
    private static func isBareKey(_ byte: UInt8?) -> Bool {
        guard let byte else { return false }
        return (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x61 && byte <= 0x7A) || isDigit(byte) || byte == 0x2D
            || byte == 0x5F
    }

    // MARK: Document

    private mutating func document() throws(Failure) {
        if at("\u{FEFF}") { advance(3) }  // a byte-order mark
        while peek != nil {
            whitespace()
            switch peek {
            case nil:
                return
            case UInt8(ascii: "#"), 0x0A, 0x0D:
                try endOfLine(after: "a comment")
            case UInt8(ascii: "["):
                try tableHeader()
            default:
                try keyValue()
                try endOfLine(after: "a value")
            }
        }
    }

    private mutating func tableHeader() throws(Failure) {
        advance()
        let isArray = peek == UInt8(ascii: "[")
        if isArray { advance() }
        whitespace()
        try key(context: "a table name")
        whitespace()
        guard peek == UInt8(ascii: "]") else {
            throw failure("expected ']' to close the table header; table names are keys: [name] or [a.b]")
        }
        advance()
        if isArray {
            guard peek == UInt8(ascii: "]") else { throw failure("expected ']]' to close the array-of-tables header") }
            advance()
        }
        try endOfLine(after: "the table header")
    }

    private mutating func keyValue() throws(Failure) {
        try key(context: "a key")
        whitespace()
        guard peek == UInt8(ascii: "=") else { throw failure("expected '=' after the key; write key = value") }
        advance()
        whitespace()
        try value()
    }

    /// A dotted key: simple keys (bare, "basic" or 'literal') joined by '.', with optional whitespace around dots.
    private mutating func key(context: String) throws(Failure) {
        while true {
            if peek == UInt8(ascii: "\"") {
                try basicString()
            } else if peek == UInt8(ascii: "'") {
                try literalString()
            } else if Self.isBareKey(peek) {
                while Self.isBareKey(peek) { advance() }
            } else {
                let found = peek.map { $0 < 0x80 ? "'\(Character(Unicode.Scalar($0)))'" : "a non-ASCII character" }
                throw failure("expected \(context) but found \(found ?? "the end of the text"); bare keys are "
                              + "letters, digits, '-' and '_', other keys need quotes: \"name\"")
            }
            whitespace()
            guard peek == UInt8(ascii: ".") else { return }
            advance()
            whitespace()
        }
    }

    // MARK: Values

    private mutating func value() throws(Failure) {
        switch peek {
        case UInt8(ascii: "\""):
            if at("\"\"\"") { try multilineBasicString() } else { try basicString() }
        case UInt8(ascii: "'"):
            if at("'''") { try multilineLiteralString() } else { try literalString() }
        case UInt8(ascii: "["):
            try array()
        case UInt8(ascii: "{"):
            try inlineTable()
        case UInt8(ascii: "t"):
            guard at("true") else { throw invalidValue() }
            advance(4)
        case UInt8(ascii: "f"):
            guard at("false") else { throw invalidValue() }
            advance(5)
        case UInt8(ascii: "i"), UInt8(ascii: "n"):
            guard at("inf") || at("nan") else { throw invalidValue() }
            advance(3)
        case UInt8(ascii: "+"), UInt8(ascii: "-"):
            advance()
            if at("inf") || at("nan") { advance(3); break }
            guard Self.isDigit(peek) else { throw invalidValue() }
            try decimalNumber()
        case let byte? where Self.isDigit(byte):
            if (0..<4).allSatisfy({ Self.isDigit(peek($0)) }) && peek(4) == UInt8(ascii: "-") {
                try dateTime()
            } else if Self.isDigit(peek(1)) && peek(2) == UInt8(ascii: ":") {
                try time()
            } else if byte == UInt8(ascii: "0"), let radix = peek(1), let digits = Self.radixDigits(radix) {
                advance(2)
                try digitRun(digits, what: "digit")
            } else {
                try decimalNumber()
            }
        default:
            throw invalidValue()
        }
        // A value ends at whitespace, a comma, a closing bracket, a comment or the end of the line.
        switch peek {
        case nil, 0x20, 0x09, 0x0A, 0x0D, UInt8(ascii: ","), UInt8(ascii: "]"), UInt8(ascii: "}"), UInt8(ascii: "#"):
            return
        default:
            throw failure("unexpected character after the value; strings need quotes (\"text\") and array "
                          + "elements are separated by commas")
        }
    }

    private func invalidValue() -> Failure {
        failure("expected a value: a number, true or false, a \"string\", an [array], an { inline = table } or a "
                + "date")
    }

    private static func radixDigits(_ byte: UInt8) -> ((UInt8) -> Bool)? {
        switch byte {
        case UInt8(ascii: "x"):
            return { isDigit($0) || ($0 >= 0x41 && $0 <= 0x46) || ($0 >= 0x61 && $0 <= 0x66) }
        case UInt8(ascii: "o"): return { $0 >= 0x30 && $0 <= 0x37 }
        case UInt8(ascii: "b"): return { $0 == 0x30 || $0 == 0x31 }
        default: return nil
        }
    }

    /// One or more digits, with single underscores only between digits.
    private mutating func digitRun(_ isDigit: (UInt8) -> Bool, what: String) throws(Failure) {
        guard let first = peek, isDigit(first) else { throw failure("expected a \(what)") }
        while true {
            while let byte = peek, isDigit(byte) { advance() }
            guard peek == UInt8(ascii: "_") else { return }
            advance()
            guard let byte = peek, isDigit(byte) else {
                throw failure("an underscore in a number must sit between two digits")
            }
        }
    }

    /// A decimal integer or float after its sign: no leading zeros, then an optional fraction and exponent.
    private mutating func decimalNumber() throws(Failure) {
        if peek == UInt8(ascii: "0"), Self.isDigit(peek(1)) || peek(1) == UInt8(ascii: "_") {
            throw failure("a decimal number may not have leading zeros")
        }
        try digitRun({ Self.isDigit($0) }, what: "digit")
        if peek == UInt8(ascii: ".") {
            advance()
            try digitRun({ Self.isDigit($0) }, what: "digit after the decimal point (write 1.0, not 1.)")
        }
        if peek == UInt8(ascii: "e") || peek == UInt8(ascii: "E") {
            advance()
            if peek == UInt8(ascii: "+") || peek == UInt8(ascii: "-") { advance() }
            try digitRun({ Self.isDigit($0) }, what: "digit in the exponent")
        }
    }

    private mutating func fixedDigits(_ count: Int, _ what: String) throws(Failure) {
        for _ in 0..<count {
            guard Self.isDigit(peek) else { throw failure("expected \(count) digits for the \(what)") }
            advance()
        }
    }

    private mutating func expect(_ byte: Character, _ what: String) throws(Failure) {
        guard let ascii = byte.asciiValue, peek == ascii else { throw failure("expected '\(byte)' in the \(what)") }
        advance()
    }

    /// `YYYY-MM-DD`, optionally followed by `T`/`t`/space and a time with an optional offset.
    private mutating func dateTime() throws(Failure) {
        try fixedDigits(4, "year")
        try expect("-", "date")
        try fixedDigits(2, "month")
        try expect("-", "date")
        try fixedDigits(2, "day")
        let separator = peek
        let timeFollows = separator == UInt8(ascii: "T") || separator == UInt8(ascii: "t")
            || (separator == 0x20 && Self.isDigit(peek(1)))
        guard timeFollows else { return }
        advance()
        try time()
        switch peek {
        case UInt8(ascii: "Z"), UInt8(ascii: "z"):
            advance()
        case UInt8(ascii: "+"), UInt8(ascii: "-"):
            advance()
            try fixedDigits(2, "offset hours")
            try expect(":", "offset")
            try fixedDigits(2, "offset minutes")
        default:
            break
        }
    }

    /// `HH:MM:SS` with an optional fraction of a second.
    private mutating func time() throws(Failure) {
        try fixedDigits(2, "hours")
        try expect(":", "time")
        try fixedDigits(2, "minutes")
        try expect(":", "time")
        try fixedDigits(2, "seconds")
        if peek == UInt8(ascii: ".") {
            advance()
            guard Self.isDigit(peek) else { throw failure("expected digits after '.' in the time") }
            while Self.isDigit(peek) { advance() }
        }
    }

    private mutating func array() throws(Failure) {
        advance()
        try whitespaceCommentsAndNewlines()
        while peek != UInt8(ascii: "]") {
            guard peek != nil else { throw failure("the array is not closed; add ']'") }
            try value()
            try whitespaceCommentsAndNewlines()
            if peek == UInt8(ascii: ",") {
                advance()
                try whitespaceCommentsAndNewlines()
            } else if peek != UInt8(ascii: "]") {
                throw failure("expected ',' or ']' after an array element")
            }
        }
        advance()
    }

    /// `{ key = value, … }` on one line, without a trailing comma.
    private mutating func inlineTable() throws(Failure) {
        advance()
        whitespace()
        if peek == UInt8(ascii: "}") { advance(); return }
        while true {
            try keyValue()
            whitespace()
            if peek == UInt8(ascii: "}") { advance(); return }
            guard peek == UInt8(ascii: ",") else {
                throw failure("expected ',' or '}' in the inline table (an inline table stays on one line)")
            }
            advance()
            whitespace()
        }
    }

    // MARK: Strings

    /// Checks one escape sequence after a backslash inside a basic string.
    private mutating func escape() throws(Failure) {
        advance()  // the backslash
        guard let byte = peek else { throw failure("the string is not closed") }
        switch byte {
        case UInt8(ascii: "b"), UInt8(ascii: "t"), UInt8(ascii: "n"), UInt8(ascii: "f"), UInt8(ascii: "r"),
             UInt8(ascii: "\""), UInt8(ascii: "\\"):
            advance()
        case UInt8(ascii: "u"), UInt8(ascii: "U"):
            let count = byte == UInt8(ascii: "u") ? 4 : 8
            advance()
            var scalar: UInt32 = 0
            for _ in 0..<count {
                guard let digit = peek, let value = Self.hexValue(digit) else {
                    throw failure("expected \(count) hexadecimal digits in the \\\(Character(Unicode.Scalar(byte))) escape")
                }
                scalar = scalar &* 16 &+ value
                advance()
            }
            guard Unicode.Scalar(scalar) != nil else {
                throw failure("the escape does not name a Unicode scalar value")
            }
        default:
            throw failure("unknown escape sequence; write \\\\ for a backslash, or use a 'literal string'")
        }
    }

    private static func hexValue(_ byte: UInt8) -> UInt32? {
        switch byte {
        case 0x30...0x39: return UInt32(byte - 0x30)
        case 0x41...0x46: return UInt32(byte - 0x41 + 10)
        case 0x61...0x66: return UInt32(byte - 0x61 + 10)
        default: return nil
        }
    }

    private mutating func basicString() throws(Failure) {
        advance()
        while true {
            guard let byte = peek, byte != 0x0A, byte != 0x0D else {
                throw failure("the string is not closed on its line; add '\"' (or use \"\"\" for several lines)")
            }
            if byte == UInt8(ascii: "\"") { advance(); return }
            if byte == UInt8(ascii: "\\") { try escape(); continue }
            guard !Self.isControl(byte) else { throw failure("a control character in a string must be escaped") }
            advance()
        }
    }

    private mutating func literalString() throws(Failure) {
        advance()
        while true {
            guard let byte = peek, byte != 0x0A, byte != 0x0D else {
                throw failure("the string is not closed on its line; add \"'\"")
            }
            if byte == UInt8(ascii: "'") { advance(); return }
            guard !Self.isControl(byte) else { throw failure("a control character is not allowed in a literal string") }
            advance()
        }
    }

    /// `"""…"""`: newlines allowed, a backslash at the end of a line trims the line break and the whitespace after
    /// it, and up to two quotes may precede the closing delimiter.
    private mutating func multilineBasicString() throws(Failure) {
        advance(3)
        _ = try newline()
        while true {
            guard let byte = peek else { throw failure("the multi-line string is not closed; add '\"\"\"'") }
            if at("\"\"\"") {
                advance(3)
                if peek == UInt8(ascii: "\"") { advance() }
                if peek == UInt8(ascii: "\"") { advance() }
                return
            }
            if byte == UInt8(ascii: "\\") {
                // A line-ending backslash: optional whitespace, a newline, then any whitespace and newlines.
                var lookahead = 1
                while peek(lookahead) == 0x20 || peek(lookahead) == 0x09 { lookahead += 1 }
                if peek(lookahead) == 0x0A || peek(lookahead) == 0x0D {
                    advance(lookahead)
                    _ = try newline()
                    try skipWhitespaceAndNewlines()
                    continue
                }
                try escape()
                continue
            }
            if try newline() { continue }
            guard !Self.isControl(byte) else { throw failure("a control character in a string must be escaped") }
            advance()
        }
    }

    private mutating func skipWhitespaceAndNewlines() throws(Failure) {
        while true {
            whitespace()
            guard try newline() else { return }
        }
    }

    private mutating func multilineLiteralString() throws(Failure) {
        advance(3)
        _ = try newline()
        while true {
            guard let byte = peek else { throw failure("the multi-line string is not closed; add \"'''\"") }
            if at("'''") {
                advance(3)
                if peek == UInt8(ascii: "'") { advance() }
                if peek == UInt8(ascii: "'") { advance() }
                return
            }
            if try newline() { continue }
            guard !Self.isControl(byte) else { throw failure("a control character is not allowed in a literal string") }
            advance()
        }
    }
}
