import Foundation
import BirderCore
import BirderModels
import BirderTestSupport

/// Tests/Fixtures/vit/manifest.json, written by tools/reference/make_vit_fixtures.py.
struct ViTManifest: Decodable {
    struct Array: Decodable {
        let file: String
        let shape: [Int]
    }
    struct Model: Decodable {
        let tag: String
        let network: String
        let config: [String: JSONScalar]
        let numClasses: Int
        let size: [Int]
        let adjustSize: [Int]?
        let dynamic: Bool
        let inputShape: [Int]
        let embedding: Array
        let probabilities: Array?
        let detectionShape: [Int]
        let detectionChannelStride: Int
        let detection: Array
        let stages: [String]
    }
    struct Interpolation: Decodable {
        let mode: String
        let antialias: Bool
        let input: Array
        let output: Array
    }
    let seed: UInt64
    let models: [Model]
    let interpolation: [Interpolation]

    static func load() throws -> ViTManifest { try Fixtures.json(ViTManifest.self, "vit/manifest.json") }

    static func values(_ array: Array) throws -> [Float] { try Fixtures.float32Array("vit/" + array.file) }
}

/// A JSON scalar as a Birder config value (Bool before Int: JSON has no separate integer type).
enum JSONScalar: Decodable {
    case value(ConfigValue)

    init(from decoder: any Decoder) throws {
        let c = try decoder.singleValueContainer()
        if c.decodeNil() { self = .value(.null) }
        else if let b = try? c.decode(Bool.self) { self = .value(.bool(b)) }
        else if let i = try? c.decode(Int.self) { self = .value(.int(i)) }
        else if let d = try? c.decode(Double.self) { self = .value(.double(d)) }
        else if let s = try? c.decode(String.self) { self = .value(.string(s)) }
        else { self = .value(.list(try c.decode([JSONScalar].self).map(\.configValue))) }
    }

    var configValue: ConfigValue { if case let .value(v) = self { return v } else { return .null } }
}

extension Dictionary where Key == String, Value == JSONScalar {
    var configValues: [String: ConfigValue] { mapValues(\.configValue) }
}

enum ViTTestInput {
    /// The fixture script's input: seeded_params.uniform("input", NCHW, 0, 2, seed), made NHWC.
    static func nhwc(seed: UInt64, nchw shape: [Int]) -> Tensor {
        let (n, c, h, w) = (shape[0], shape[1], shape[2], shape[3])
        let nchw = SeededParameters(seed: seed).uniform(name: "input", shape: shape, center: 0, halfWidth: 2)
        return Tensor(shape: [n, h, w, c]) { out in
            nchw.withUnsafeBufferPointer { x in
                for b in 0..<n { for y in 0..<h { for xx in 0..<w { for ch in 0..<c {
                    out[((b * h + y) * w + xx) * c + ch] = x[((b * c + ch) * h + y) * w + xx]
                } } } }
            }
        }
    }
}

/// Named tensors in memory: a stand-in for a checkpoint in the strict-loading tests.
struct DictionarySource: ParameterSource {
    var tensors: [String: Tensor]
    var parameterNames: [String] { Swift.Array(tensors.keys) }
    func shape(of name: String) -> [Int]? { tensors[name]?.shape }
    func float32Tensor(named name: String) throws -> Tensor {
        guard let t = tensors[name] else { throw WeightBindingError.missing(name: name) }
        return t
    }
}

/// A checkpoint stand-in that has exactly the names and shapes of a state_dict listing and hands
/// out zero tensors: binding a network to it checks names and shapes against Birder's.
struct ListingSource: ParameterSource {
    let shapes: [String: [Int]]

    /// Lines "name [d0, d1, …]" as tools/reference/make_vit_fixtures.py writes them.
    init(listing: String) {
        var shapes: [String: [Int]] = [:]
        for line in listing.split(separator: "\n") where !line.hasPrefix("#") {
            guard let space = line.firstIndex(of: " ") else { continue }
            let dims = line[line.index(after: space)...].filter { "0123456789,".contains($0) }
            shapes[String(line[..<space])] = dims.split(separator: ",").compactMap { Int($0) }
        }
        self.shapes = shapes
    }

    var parameterNames: [String] { Swift.Array(shapes.keys) }
    func shape(of name: String) -> [Int]? { shapes[name] }
    func float32Tensor(named name: String) throws -> Tensor {
        guard let shape = shapes[name] else { throw WeightBindingError.missing(name: name) }
        return Tensor(zeros: shape)
    }
}
