import Foundation
import Testing
import BirderCore
import BirderTestSupport
@testable import BirderIO

func ioFixture(_ name: String) -> String { Fixtures.path("io/\(name)") }

func expectedJSON(_ name: String) throws -> JSONValue {
    let data = try Data(contentsOf: URL(fileURLWithPath: ioFixture(name)))
    return try JSONValue.parse(String(decoding: data, as: UTF8.self))
}

/// A fresh temporary directory, removed by the caller.
func temporaryDirectory() throws -> URL {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("birder-io-tests-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    return url
}

/// Compares a stored tensor with an expected {dtype, shape, values} record; returns the max
/// difference of the values (0 for exact matches).
@discardableResult
func expectMatches(_ tensor: StoredTensor, _ expected: JSONValue, _ name: String) -> Double {
    #expect(tensor.dtype.rawValue == expected["dtype"]?.stringValue, "\(name) dtype")
    #expect(tensor.shape == expected["shape"]?.arrayValue?.compactMap(\.intValue), "\(name) shape")
    let values = expected["values"]?.arrayValue ?? []
    guard values.count == tensor.elementCount else {
        Issue.record("\(name): \(values.count) expected values for \(tensor.elementCount) elements")
        return .infinity
    }
    if tensor.dtype.isFloatingPoint {
        let got = tensor.doubles()
        var maxDiff = 0.0
        for (g, e) in zip(got, values) {
            guard let e = e.doubleValue else { Issue.record("\(name): non-numeric expected value"); return .infinity }
            maxDiff = max(maxDiff, g == e ? 0 : abs(g - e))
        }
        #expect(maxDiff == 0, "\(name): max difference \(maxDiff)")
        return maxDiff
    } else {
        let got = tensor.int64s()
        let want = values.map { Int64($0.intValue ?? Int.min) }
        #expect(got == want, "\(name) values")
        return got == want ? 0 : .infinity
    }
}

/// Runs `body`, expecting a BirderIOError; returns it.
func expectIOError(_ body: () throws -> Void, sourceLocation: SourceLocation = #_sourceLocation) -> BirderIOError? {
    do {
        try body()
        Issue.record("expected an error, got success", sourceLocation: sourceLocation)
        return nil
    } catch let error as BirderIOError {
        return error
    } catch {
        Issue.record("expected a BirderIOError, got \(error)", sourceLocation: sourceLocation)
        return nil
    }
}
