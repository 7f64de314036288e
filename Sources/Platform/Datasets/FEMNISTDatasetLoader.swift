import CKernels
import Foundation

/// Loads FEMNIST as produced by LEAF: `train/*.json` and `test/*.json`, each holding the samples of some writers.
///
/// Each file is `{"users": [...], "num_samples": [...], "user_data": {writer: {"x": [[784 values in 0…1]],
/// "y": [labels 0…61]}}}`. Pixels are stored as round(255·x); the writer of each sample becomes its writer id, with
/// ids numbered over the sorted writer names of both splits so that a writer has the same id in train and test.
public struct FEMNISTDatasetLoader: DatasetLoader {
    /// The catalog name, "femnist".
    public let name: String
    /// Where LEAF's output folder (holding `train/` and `test/`) is looked for when no directory is given.
    public let defaultDirectory: String
    let hints: DatasetFileHints

    /// Number of classes: 10 digits, 26 upper-case and 26 lower-case letters.
    public static let classCount = 62
    /// Image height and width.
    public static let imageSide = 28

    /// The standard FEMNIST loader.
    public static let femnist = FEMNISTDatasetLoader(
        name: "femnist", defaultDirectory: "/usr/share/datasets/femnist",
        hints: DatasetFileHints(
            install: "Generate FEMNIST with LEAF (in leaf/data/femnist run ./preprocess.sh with the sampling "
                + "datasets/README.md gives) and copy its data/ folder, which holds "
                + "train/ and test/, to /usr/share/datasets/femnist, or set data_dir to that folder",
            repair: "Regenerate the file with LEAF's femnist preprocess.sh or set data_dir to intact LEAF output"))

    /// Loads both splits from `directory/train` and `directory/test` (or from `directory/data/…`, LEAF's layout).
    public func load(directory: String) throws -> DatasetSplit {
        try DatasetFiles.requireDirectory(directory, hints: hints)
        let nested = DatasetFiles.path(directory, "data")
        let root = !DatasetFiles.isDirectory(DatasetFiles.path(directory, "train"))
            && DatasetFiles.isDirectory(DatasetFiles.path(nested, "train")) ? nested : directory
        let trainFiles = try parseFolder(DatasetFiles.path(root, "train"))
        let testFiles = try parseFolder(DatasetFiles.path(root, "test"))
        var writerNames = Set<String>()
        for file in trainFiles + testFiles {
            for writer in file.writers { writerNames.insert(writer.name) }
        }
        let sortedNames = writerNames.sorted()
        var writerIDs: [String: Int32] = [:]
        for (id, writerName) in sortedNames.enumerated() { writerIDs[writerName] = Int32(id) }
        return DatasetSplit(
            train: assemble(trainFiles, writerIDs: writerIDs, writerNames: sortedNames),
            test: assemble(testFiles, writerIDs: writerIDs, writerNames: sortedNames))
    }

    private func parseFolder(_ folder: String) throws -> [LEAFFile] {
        try DatasetFiles.requireDirectory(folder, hints: hints)
        let names: [String]
        do {
            names = try FileManager.default.contentsOfDirectory(atPath: folder)
                .filter { $0.hasSuffix(".json") }.sorted()
        } catch {
            throw hints.unreadable(folder, reason: "\(error)")
        }
        guard !names.isEmpty else {
            throw DatasetError(.missingFile, path: folder, message: "\(folder) holds no .json files. \(hints.install)")
        }
        return try names.map { try parseFile(DatasetFiles.path(folder, $0)) }
    }

    private func assemble(_ files: [LEAFFile], writerIDs: [String: Int32], writerNames: [String]) -> Dataset {
        var images: [UInt8] = []
        var labels: [Int32] = []
        var sampleWriters: [Int32] = []
        let total = files.reduce(0) { sum, file in sum + file.writers.reduce(0) { $0 + $1.labels.count } }
        images.reserveCapacity(total * Self.imageSide * Self.imageSide)
        labels.reserveCapacity(total)
        sampleWriters.reserveCapacity(total)
        for file in files {
            for writer in file.writers {
                images += writer.images
                labels += writer.labels
                sampleWriters += repeatElement(writerIDs[writer.name]!, count: writer.labels.count)
            }
        }
        return Dataset(name: name, images: images, labels: labels, channels: 1, height: Self.imageSide,
                       width: Self.imageSide, classCount: Self.classCount, writerIDs: sampleWriters,
                       writerNames: writerNames, normalization: .femnist)
    }

    /// Parses one LEAF JSON file and checks it against its own `users` and `num_samples` lists.
    func parseFile(_ path: String) throws -> LEAFFile {
        let bytes = try DatasetFiles.readAll(path, nulTerminated: true, hints: hints)
        let parsed = try bytes.withUnsafeBufferPointer { buffer in
            var parser = LEAFJSONParser(text: UnsafeBufferPointer(rebasing: buffer.dropLast()),
                                        path: path, hints: hints, sampleSize: Self.imageSide * Self.imageSide)
            return try parser.parseDocument()
        }
        guard let users = parsed.users else { throw hints.corrupt(path, "it has no \"users\" list") }
        guard let sampleCounts = parsed.sampleCounts else {
            throw hints.corrupt(path, "it has no \"num_samples\" list")
        }
        guard users.count == sampleCounts.count else {
            throw hints.countMismatch(path, "\"users\" lists \(users.count) writers but \"num_samples\" has "
                + "\(sampleCounts.count) entries")
        }
        var writers: [LEAFFile.Writer] = []
        for (user, sampleCount) in zip(users, sampleCounts) {
            guard let data = parsed.userData[user] else {
                throw hints.corrupt(path, "writer \"\(user)\" is listed in \"users\" but has no \"user_data\" entry")
            }
            guard let images = data.images, let labels = data.labels else {
                throw hints.corrupt(path, "the \"user_data\" of writer \"\(user)\" lacks \"x\" or \"y\"")
            }
            let imageCount = images.count / (Self.imageSide * Self.imageSide)
            guard imageCount == labels.count && labels.count == Int(sampleCount) else {
                throw hints.countMismatch(path, "writer \"\(user)\" has \(imageCount) images and \(labels.count) "
                    + "labels, and \"num_samples\" says \(sampleCount)")
            }
            if let position = labels.firstIndex(where: { $0 < 0 || $0 >= Int32(Self.classCount) }) {
                throw hints.labelOutOfRange(path, "label \(labels[position]) of sample \(position) of writer "
                    + "\"\(user)\" is outside 0...\(Self.classCount - 1)")
            }
            writers.append(LEAFFile.Writer(name: user, images: images, labels: labels))
        }
        let listedUsers = Set(users)
        if let extra = parsed.userData.keys.sorted().first(where: { !listedUsers.contains($0) }) {
            throw hints.corrupt(path, "\"user_data\" has writer \"\(extra)\" that \"users\" does not list")
        }
        return LEAFFile(writers: writers)
    }
}

/// The writers of one LEAF file, in the order of its `users` list.
struct LEAFFile {
    /// One writer's samples.
    struct Writer {
        let name: String
        let images: [UInt8]
        let labels: [Int32]
    }

    let writers: [Writer]
}

/// A parser for the LEAF JSON layout: structure in Swift, the number arrays (nearly all of the bytes) in C.
struct LEAFJSONParser {
    /// What one file declares, before cross-checking.
    struct Document {
        var users: [String]?
        var sampleCounts: [Int32]?
        var userData: [String: (images: [UInt8]?, labels: [Int32]?)] = [:]
    }

    private let text: UnsafeBufferPointer<UInt8>
    private let path: String
    private let hints: DatasetFileHints
    private let sampleSize: Int
    private var position = 0

    /// `text` must be followed in memory by a NUL byte.
    init(text: UnsafeBufferPointer<UInt8>, path: String, hints: DatasetFileHints, sampleSize: Int) {
        self.text = text
        self.path = path
        self.hints = hints
        self.sampleSize = sampleSize
    }

    /// Parses the top-level object; unknown keys (e.g. LEAF's "hierarchies") are skipped.
    mutating func parseDocument() throws -> Document {
        var document = Document()
        try parseObject { parser, key in
            switch key {
            case "users": document.users = try parser.parseStringArray()
            case "num_samples": document.sampleCounts = try parser.parseIntegerArray()
            case "user_data":
                try parser.parseObject { parser, user in
                    var entry: (images: [UInt8]?, labels: [Int32]?) = (nil, nil)
                    try parser.parseObject { parser, field in
                        switch field {
                        case "x": entry.images = try parser.parseImages(user: user)
                        case "y": entry.labels = try parser.parseIntegerArray()
                        default: try parser.skipValue()
                        }
                    }
                    document.userData[user] = entry
                }
            default: try parser.skipValue()
            }
        }
        skipWhitespace()
        guard position == text.count else { throw malformed("nothing after the top-level object") }
        return document
    }

    private func malformed(_ expected: String) -> DatasetError {
        if position >= text.count {
            return hints.truncated(path, "the JSON ends at byte \(text.count) where \(expected) should follow")
        }
        return hints.corrupt(path, "at byte \(position): expected \(expected); it is not LEAF JSON")
    }

    private var current: UInt8? { position < text.count ? text[position] : nil }

    private mutating func skipWhitespace() {
        while let byte = current, byte == 0x20 || byte == 0x0A || byte == 0x0D || byte == 0x09 { position += 1 }
    }

    private mutating func expect(_ byte: UInt8, _ description: String) throws {
        skipWhitespace()
        guard current == byte else { throw malformed(description) }
        position += 1
    }

    /// Calls `body` for each key with the parser positioned at the key's value, which `body` must consume.
    private mutating func parseObject(_ body: (inout LEAFJSONParser, String) throws -> Void) throws {
        try expect(UInt8(ascii: "{"), "'{'")
        skipWhitespace()
        if current == UInt8(ascii: "}") { position += 1; return }
        while true {
            skipWhitespace()
            let key = try parseString()
            try expect(UInt8(ascii: ":"), "':' after a key")
            try body(&self, key)
            skipWhitespace()
            if current == UInt8(ascii: ",") { position += 1; continue }
            try expect(UInt8(ascii: "}"), "',' or '}' in an object")
            return
        }
    }

    /// Calls `body` for each element with the parser positioned at it; `body` must consume the element.
    private mutating func parseArray(_ body: (inout LEAFJSONParser) throws -> Void) throws {
        try expect(UInt8(ascii: "["), "'['")
        skipWhitespace()
        if current == UInt8(ascii: "]") { position += 1; return }
        while true {
            try body(&self)
            skipWhitespace()
            if current == UInt8(ascii: ",") { position += 1; continue }
            try expect(UInt8(ascii: "]"), "',' or ']' in an array")
            return
        }
    }

    private mutating func parseString() throws -> String {
        try expect(UInt8(ascii: "\""), "a string")
        var bytes: [UInt8] = []
        while true {
            guard let byte = current else { throw malformed("a closing '\"'") }
            position += 1
            switch byte {
            case UInt8(ascii: "\""):
                return String(decoding: bytes, as: UTF8.self)
            case UInt8(ascii: "\\"):
                guard let escaped = current else { throw malformed("an escape sequence") }
                position += 1
                switch escaped {
                case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): bytes.append(escaped)
                case UInt8(ascii: "b"): bytes.append(0x08)
                case UInt8(ascii: "f"): bytes.append(0x0C)
                case UInt8(ascii: "n"): bytes.append(0x0A)
                case UInt8(ascii: "r"): bytes.append(0x0D)
                case UInt8(ascii: "t"): bytes.append(0x09)
                case UInt8(ascii: "u"):
                    var scalarValue = try parseHexQuad()
                    if (0xD800..<0xDC00).contains(scalarValue), current == UInt8(ascii: "\\"),
                       position + 1 < text.count, text[position + 1] == UInt8(ascii: "u") {
                        position += 2
                        let low = try parseHexQuad()
                        scalarValue = 0x10000 + ((scalarValue - 0xD800) << 10) + (low &- 0xDC00)
                    }
                    let scalar = Unicode.Scalar(scalarValue) ?? "\u{FFFD}"
                    bytes.append(contentsOf: Array(String(Character(scalar)).utf8))
                default: throw malformed("a valid escape sequence")
                }
            default:
                bytes.append(byte)
            }
        }
    }

    private mutating func parseHexQuad() throws -> UInt32 {
        var value: UInt32 = 0
        for _ in 0..<4 {
            guard let byte = current, let digit = Character(Unicode.Scalar(byte)).hexDigitValue else {
                throw malformed("four hexadecimal digits after \\u")
            }
            value = value * 16 + UInt32(digit)
            position += 1
        }
        return value
    }

    private mutating func parseStringArray() throws -> [String] {
        var strings: [String] = []
        try parseArray { parser in strings.append(try parser.parseString()) }
        return strings
    }

    private mutating func parseIntegerArray() throws -> [Int32] {
        skipWhitespace()
        var capacity = 256
        while true {
            var consumed = 0
            let start = position
            var values = [Int32](repeating: 0, count: capacity)
            let count = values.withUnsafeMutableBufferPointer { destination in
                withCString(at: start) { pointer, length in
                    cocofl_parse_int_array_i32(pointer, length, destination.baseAddress, capacity, &consumed)
                }
            }
            if count == -2 {
                position = start + consumed
                throw malformed("an integer that fits in 32 bits")
            }
            if count < 0 {
                position = start + consumed
                throw malformed("an array of integers")
            }
            if Int(count) > capacity {
                capacity = Int(count)
                continue
            }
            position = start + consumed
            values.removeLast(capacity - Int(count))
            return values
        }
    }

    /// Parses "x": an array of samples, each an array of `sampleSize` values in [0, 1], stored as bytes.
    private mutating func parseImages(user: String) throws -> [UInt8] {
        var images: [UInt8] = []
        var sampleIndex = 0
        let sampleSize = self.sampleSize
        try withUnsafeTemporaryAllocation(of: UInt8.self, capacity: sampleSize) { scratch in
            try parseArray { parser in
                parser.skipWhitespace()
                var consumed = 0
                let start = parser.position
                let count = parser.withCString(at: start) { pointer, length in
                    cocofl_parse_unit_array_u8(pointer, length, scratch.baseAddress, sampleSize, &consumed)
                }
                parser.position = start + consumed
                if count == -2 {
                    throw parser.hints.corrupt(parser.path, "at byte \(parser.position): sample \(sampleIndex) of "
                        + "writer \"\(user)\" has a pixel outside 0…1 (LEAF stores pixels divided by 255)")
                }
                if count < 0 { throw parser.malformed("an array of numbers (a sample of writer \"\(user)\")") }
                guard Int(count) == sampleSize else {
                    throw parser.hints.corrupt(parser.path, "sample \(sampleIndex) of writer \"\(user)\" has "
                        + "\(count) pixels, a 28×28 FEMNIST image has \(sampleSize)")
                }
                images.append(contentsOf: UnsafeBufferPointer(scratch))
                sampleIndex += 1
            }
        }
        return images
    }

    /// Skips any JSON value.
    private mutating func skipValue() throws {
        skipWhitespace()
        guard let byte = current else { throw malformed("a value") }
        switch byte {
        case UInt8(ascii: "{"): try parseObject { parser, _ in try parser.skipValue() }
        case UInt8(ascii: "["): try parseArray { parser in try parser.skipValue() }
        case UInt8(ascii: "\""): _ = try parseString()
        default:
            // Numbers and the literals true, false and null: everything up to the next delimiter.
            let start = position
            while let next = current, !" \n\r\t,]}".utf8.contains(next) { position += 1 }
            guard position > start else { throw malformed("a value") }
        }
    }

    /// Passes the C parsers the text from `offset` to the end, which the caller's NUL byte terminates.
    private func withCString<Result>(
        at offset: Int, _ body: (UnsafePointer<CChar>, Int) -> Result
    ) -> Result {
        let base = UnsafeRawPointer(text.baseAddress!).advanced(by: offset)
        return body(base.assumingMemoryBound(to: CChar.self), text.count - offset)
    }
}
