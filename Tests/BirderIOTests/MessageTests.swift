import Foundation
import Testing
import BirderCore
import BirderTestSupport
@testable import BirderIO

/// Errors read as one line of plain words and data, whatever the file holds.
@Suite struct MessageTests {
    func safetensors(_ header: String) -> FileContents {
        var bytes = withUnsafeBytes(of: UInt64(header.utf8.count).littleEndian, Array.init)
        bytes += Array(header.utf8)
        return bytes.withUnsafeBytes { FileContents(path: "m.safetensors", copying: $0) }
    }

    @Test func overflowingShapeIsQuotedAsJSON() {
        let file = safetensors(#"{"t":{"dtype":"F32","shape":[4294967296,4294967296,4],"data_offsets":[0,0]}}"#)
        let error = expectIOError { _ = try Safetensors.load(file) }
        #expect(error?.description == "m.safetensors: invalid safetensors file: tensor 't': element count of shape [4294967296,4294967296,4] overflows")
    }

    @Test func controlCharactersInNamesAreEscaped() {
        let file = safetensors(#"{"a\nerror: forged\u0007":{"dtype":"F32","shape":[-1],"data_offsets":[0,0]}}"#)
        let error = expectIOError { _ = try Safetensors.load(file) }
        #expect(error?.description == #"m.safetensors: invalid safetensors file: tensor 'a\nerror: forged\u{7}' has a negative or non-integer dimension"#)
    }

    @Test func longReasonsAreCut() {
        let error = BirderIOError.invalidContent(path: "p", reason: String(repeating: "x", count: 5000))
        #expect(error.description == "p: " + String(repeating: "x", count: 1000) + "…")
    }

    @Test func pickledValuesAreQuotedAsPython() throws {
        let value = PickleValue.dict(PickleDict([
            PickleDict.Entry(key: .int(5), value: .tuple([.string("a")])),
            PickleDict.Entry(key: .string("b"), value: .list([.none, .bool(true), .float(0.5)])),
        ]))
        #expect(value.description == "{5: ('a',), 'b': [None, True, 0.5]}")
        let error = expectIOError { _ = try StateDict(path: "s.pt", pickle: try #require(value.dictValue)) }
        #expect(error?.description == "s.pt: state dict key 5 is not a string")
        let long = PickleValue.list(Array(repeating: .int(123456789), count: 1000)).description
        #expect(long.count == 201 && long.hasSuffix("…"))
    }
}
