#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// File names as the operating system keeps them: bytes, usually UTF-8 but not always (photos
/// copied from an old camera card or unpacked from a Latin-1 zip are named e.g. `K\xe4fer.jpg`).
///
/// A Swift `String` holds only Unicode, and Foundation replaces bytes that are not UTF-8 with
/// U+FFFD, after which the name opens nothing. So paths are carried as strings that keep such
/// bytes reversibly, as Python's `surrogateescape` does: each byte of an invalid sequence becomes
/// one scalar of U+10FF80…U+10FFFF (private use, never in real names; a name that does hold one
/// has that scalar's own bytes escaped, so the mapping is a bijection on byte strings). Every call
/// into the file system encodes back to the exact bytes; messages and result files show the
/// bytes as `\xNN`.
public enum FileSystemPath {
    /// The first of the 128 scalars standing for the bytes 0x80…0xFF.
    private static let escapeBase: UInt32 = 0x10FF00

    private static func isEscape(_ scalar: Unicode.Scalar) -> Bool { scalar.value >= escapeBase + 0x80 }

    /// The path for the bytes `bytes` (no terminating NUL), UTF-8 kept as it is.
    public static func string<Bytes: Collection>(fromBytes bytes: Bytes) -> String where Bytes.Element == UInt8 {
        let bytes = Array(bytes)
        var scalars = String.UnicodeScalarView()
        var index = 0
        while index < bytes.count {
            let length = utf8SequenceLength(bytes, at: index)
            guard length > 0 else {
                scalars.append(escaped(bytes[index]))
                index += 1
                continue
            }
            let sequence = bytes[index..<index + length]
            let leadBits = length == 1 ? UInt32(sequence.first!) : UInt32(sequence.first! & (0x7F >> length))
            let value = sequence.dropFirst().reduce(leadBits) { $0 << 6 | UInt32($1 & 0x3F) }
            let scalar = Unicode.Scalar(value)!  // well-formed by utf8SequenceLength
            if isEscape(scalar) {
                scalars.append(contentsOf: sequence.map(escaped))
            } else {
                scalars.append(scalar)
            }
            index += length
        }
        return String(scalars)
    }

    private static func escaped(_ byte: UInt8) -> Unicode.Scalar { Unicode.Scalar(escapeBase + UInt32(byte))! }

    /// The length of the well-formed UTF-8 sequence at `index` (Unicode's table 3-7: no overlong
    /// forms, no surrogates, nothing above U+10FFFF), or 0 when none starts there.
    private static func utf8SequenceLength(_ bytes: [UInt8], at index: Int) -> Int {
        let lead = bytes[index]
        let length: Int, second: ClosedRange<UInt8>
        switch lead {
        case 0x00...0x7F: return 1
        case 0xC2...0xDF: length = 2; second = 0x80...0xBF
        case 0xE0: length = 3; second = 0xA0...0xBF
        case 0xE1...0xEC, 0xEE...0xEF: length = 3; second = 0x80...0xBF
        case 0xED: length = 3; second = 0x80...0x9F
        case 0xF0: length = 4; second = 0x90...0xBF
        case 0xF1...0xF3: length = 4; second = 0x80...0xBF
        case 0xF4: length = 4; second = 0x80...0x8F
        default: return 0
        }
        guard index + length <= bytes.count, second.contains(bytes[index + 1]) else { return 0 }
        for offset in 2..<length where !(0x80...0xBF).contains(bytes[index + offset]) { return 0 }
        return length
    }

    /// The path's bytes as the file system takes them.
    public static func bytes(of path: String) -> [UInt8] {
        guard path.unicodeScalars.contains(where: isEscape) else { return Array(path.utf8) }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(path.utf8.count)
        for scalar in path.unicodeScalars {
            if isEscape(scalar) {
                bytes.append(UInt8(scalar.value - escapeBase))
            } else {
                bytes.append(contentsOf: Unicode.UTF8.encode(scalar)!)
            }
        }
        return bytes
    }

    /// Calls `body` with the path as a NUL-terminated C string of its exact bytes.
    public static func withCString<Result>(_ path: String, _ body: (UnsafePointer<CChar>) throws -> Result) rethrows -> Result {
        guard path.unicodeScalars.contains(where: isEscape) else { return try path.withCString(body) }
        var raw = bytes(of: path)
        raw.append(0)
        return try raw.withUnsafeBufferPointer { buffer in
            try buffer.withMemoryRebound(to: CChar.self) { try body($0.baseAddress!) }
        }
    }

    /// `stat(2)` of the path's exact bytes, links followed; nil when it fails (`errno` says why).
    public static func status(of path: String) -> stat? {
        var info = stat()
        return withCString(path) { stat($0, &info) } == 0 ? info : nil
    }

    /// Whether the path holds bytes that are not UTF-8.
    public static func holdsRawBytes(_ path: String) -> Bool { path.unicodeScalars.contains(where: isEscape) }

    /// The path for people and text files: raw bytes written `\xNN` (as `ls -b` and Python's
    /// `repr` show them); UTF-8 paths unchanged.
    public static func displayed(_ path: String) -> String {
        guard holdsRawBytes(path) else { return path }
        var shown = ""
        for scalar in path.unicodeScalars {
            if isEscape(scalar) {
                let byte = scalar.value - escapeBase
                shown += "\\x" + (byte < 16 ? "0" : "") + String(byte, radix: 16)
            } else {
                shown.unicodeScalars.append(scalar)
            }
        }
        return shown
    }

    /// The program's arguments with their exact bytes (`CommandLine.arguments` replaces bytes that
    /// are not UTF-8 with U+FFFD, losing the name).
    public static func commandLineArguments() -> [String] {
        (0..<Int(CommandLine.argc)).map { index in
            guard let argument = CommandLine.unsafeArgv[index] else { return "" }
            return string(fromBytes: UnsafeBufferPointer(start: argument, count: strlen(argument)).lazy.map { UInt8(bitPattern: $0) })
        }
    }
}

extension stat {
    /// The last modification time (its field is named differently on Darwin and Linux).
    package var modificationTime: timespec {
        #if canImport(Darwin)
        return st_mtimespec
        #else
        return st_mtim
        #endif
    }
}
