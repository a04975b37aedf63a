import Foundation
import Testing
import BirderCore
import BirderTestSupport
@testable import BirderIO

/// A head file's record of the encoder it was trained on: written and read back, absent from
/// Birder's own heads, refused when malformed.
@Suite struct HeadRecordTests {
    static func temporary(_ name: String) -> String {
        FileManager.default.temporaryDirectory.appendingPathComponent("head-\(UUID().uuidString)-\(name)").path
    }

    @Test func roundTripsAndBirdersHeadsHaveNone() throws {
        let birders = try Head.load(Fixtures.path("cli/models/rdnet_t_tiny-test-order.head.pt"))
        #expect(birders.encoder == nil)
        let record = HeadEncoder(network: "vit_b16_pn", checkpointSHA256: String(repeating: "ab", count: 32))
        let head = Head(weight: birders.weight, bias: birders.bias, classNames: birders.classNames, encoder: record)
        let path = Self.temporary("h.head.pt")
        defer { try? FileManager.default.removeItem(atPath: path) }
        try head.write(to: path)
        let read = try Head.load(path)
        #expect(read.encoder == record && read.classNames == birders.classNames)
        #expect(read.weight.scalars == birders.weight.scalars)
        // without a record, the file is as before
        try Head(weight: birders.weight, bias: birders.bias, classNames: birders.classNames).write(to: path)
        #expect(try Head.load(path).encoder == nil)
    }

    @Test func aMalformedRecordIsRefused() throws {
        let birders = try Head.load(Fixtures.path("cli/models/rdnet_t_tiny-test-order.head.pt"))
        let state = StateDict(float32: [("weight", birders.weight), ("bias", birders.bias)])
        for record: PickleValue in [.string("rdnet_t"), .dict(PickleDict([("network", .string("rdnet_t"))])),
                                    .dict(PickleDict([("network", .string("rdnet_t")), ("checkpoint_sha256", .string("XYZ"))]))] {
            let path = Self.temporary("bad.head.pt")
            defer { try? FileManager.default.removeItem(atPath: path) }
            try TorchFile.write(.dict(PickleDict([
                ("state", state.pickleValue),
                ("class_to_idx", .dict(PickleDict(birders.classNames.enumerated().map { ($1, PickleValue.int($0)) }))),
                ("encoder", record),
            ])), to: path)
            #expect(throws: BirderIOError.invalidContent(path: path, reason: "its 'encoder' record needs a network name and a checkpoint_sha256 of 64 hex digits")) {
                try Head.load(path)
            }
        }
    }
}
