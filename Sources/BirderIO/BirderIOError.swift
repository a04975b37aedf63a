/// Everything that can go wrong reading or writing a weights file. Every case names the file, so
/// a message can be shown as is (`PATH: reason`).
public enum BirderIOError: Error, CustomStringConvertible, Equatable, Sendable {
    /// The file could not be opened, read or written, or is not a regular file.
    case io(path: String, reason: String)
    /// The ZIP container of a `.pt` file is malformed, truncated or uses an unsupported feature.
    case invalidZip(path: String, reason: String)
    /// The pickle refers to a Python global that `torch.load(weights_only=True)` refuses.
    case forbiddenGlobal(path: String, global: String)
    /// The pickle stream is malformed or uses something a weights-only load does not allow.
    case invalidPickle(path: String, reason: String)
    /// A tensor's dtype, shape, strides or storage do not fit the data present.
    case invalidTensor(path: String, name: String, reason: String)
    /// A safetensors header or data block is malformed.
    case invalidSafetensors(path: String, reason: String)
    /// A `.npy` header or data block is malformed.
    case invalidNpy(path: String, reason: String)
    /// The file parsed but is not the expected structure (Birder checkpoint, head file …).
    case invalidContent(path: String, reason: String)
    /// A valid file using a feature this reader does not implement.
    case unsupported(path: String, reason: String)
    /// A tensor was asked for by a name the file does not hold.
    case missingTensor(path: String, name: String)

    public var path: String {
        switch self {
        case .io(let path, _), .invalidZip(let path, _), .forbiddenGlobal(let path, _),
             .invalidPickle(let path, _), .invalidTensor(let path, _, _), .invalidSafetensors(let path, _),
             .invalidNpy(let path, _), .invalidContent(let path, _), .unsupported(let path, _),
             .missingTensor(let path, _):
            return path
        }
    }

    /// The reason alone, without the path.
    public var reason: String {
        switch self {
        case .io(_, let reason): return reason
        case .invalidZip(_, let reason): return "invalid ZIP archive: \(reason)"
        case .forbiddenGlobal(_, let global):
            return "refusing pickle global '\(global)': not allowed in a weights-only load (nothing was executed)"
        case .invalidPickle(_, let reason): return "invalid pickle: \(reason)"
        case .invalidTensor(_, let name, let reason): return "tensor '\(name)': \(reason)"
        case .invalidSafetensors(_, let reason): return "invalid safetensors file: \(reason)"
        case .invalidNpy(_, let reason): return "invalid .npy file: \(reason)"
        case .invalidContent(_, let reason): return reason
        case .unsupported(_, let reason): return "unsupported: \(reason)"
        case .missingTensor(_, let name): return "no tensor named '\(name)'"
        }
    }

    /// One line, whatever the file put in names and keys: control characters are escaped and an
    /// over-long reason is cut, so a hostile name cannot forge or flood the output.
    public var description: String { "\(Self.oneLine(path, limit: 4096)): \(Self.oneLine(reason, limit: 1000))" }

    static func oneLine(_ text: String, limit: Int) -> String {
        var out = String.UnicodeScalarView()
        var count = 0
        for scalar in text.unicodeScalars {
            if count >= limit {
                out.append("…")
                break
            }
            switch scalar {
            case "\n": out.append(contentsOf: "\\n".unicodeScalars)
            case "\r": out.append(contentsOf: "\\r".unicodeScalars)
            case "\t": out.append(contentsOf: "\\t".unicodeScalars)
            default:
                if scalar.value < 0x20 || scalar.value == 0x7F || (0x80..<0xA0).contains(scalar.value)
                    || scalar.value == 0x2028 || scalar.value == 0x2029 {
                    out.append(contentsOf: "\\u{\(String(scalar.value, radix: 16))}".unicodeScalars)
                } else {
                    out.append(scalar)
                }
            }
            count += 1
        }
        return String(out)
    }
}
