import Foundation
import Testing
import BirderTestSupport
@testable import BirderIO

/// The flat columns of a Parquet file (every leaf optional, not repeated), decoded with the
/// reader's own page decoder: what pyarrow's `read_table` gives for Birder's per-class files.
private struct FlatParquet {
    let schema: [ParquetSchemaElement]
    let columns: [String: ParquetColumnDecoder.Values]
    let rowGroups: Int

    init(path: String) throws {
        let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
        #expect(Array(bytes.prefix(4)) == Array("PAR1".utf8) && Array(bytes.suffix(4)) == Array("PAR1".utf8))
        let footerLength = Int(bytes[bytes.count - 8]) | Int(bytes[bytes.count - 7]) << 8
            | Int(bytes[bytes.count - 6]) << 16 | Int(bytes[bytes.count - 5]) << 24
        let footer = Array(bytes[(bytes.count - 8 - footerLength)..<(bytes.count - 8)])
        let metadata = try footer.withUnsafeBytes { raw in
            var reader = ThriftReader(raw)
            return try ParquetFileMetadata(thrift: try reader.readStruct())
        }
        schema = metadata.schema
        rowGroups = metadata.rowGroups.count
        var columns: [String: ParquetColumnDecoder.Values] = [:]
        for group in metadata.rowGroups {
            for chunk in group.columns {
                let start = Int(chunk.start), length = Int(chunk.totalCompressedSize)
                let decoder = ParquetColumnDecoder(chunk: chunk, maxDefinitionLevel: 1, maxRepetitionLevel: 0)
                let decoded = try Array(bytes[start..<(start + length)]).withUnsafeBytes { try decoder.decode($0) }
                #expect(decoded.definitionLevels?.allSatisfy { $0 == 1 } ?? false, "no nulls")
                let name = chunk.path.joined(separator: ".")
                switch (columns[name], decoded.values) {
                case (nil, let values): columns[name] = values
                case (.byteArrays(let a)?, .byteArrays(let b)): columns[name] = .byteArrays(a + b)
                case (.int64(let a)?, .int64(let b)): columns[name] = .int64(a + b)
                case (.float(let a)?, .float(let b)): columns[name] = .float(a + b)
                default: Issue.record("column \(name) changes type between row groups")
                }
            }
        }
        self.columns = columns
    }

    func strings(_ name: String) -> [String]? {
        guard case .byteArrays(let values)? = columns[name] else { return nil }
        return values.map { String(decoding: $0, as: UTF8.self) }
    }

    func int64s(_ name: String) -> [Int64]? {
        guard case .int64(let values)? = columns[name] else { return nil }
        return values
    }

    func floats(_ name: String) -> [Float]? {
        guard case .float(let values)? = columns[name] else { return nil }
        return values
    }

    /// Names, physical types, repetition and logical types of the schema's columns.
    var layout: [String] {
        schema.dropFirst().map { "\($0.name):\(String(describing: $0.type)):\(String(describing: $0.repetition)):\(String(describing: $0.logicalType))" }
    }
}

@Suite struct ParquetScoresTests {
    static let classes = ["Coleoptera", "Diptera", "Hymenoptera", "Lepidoptera"]

    /// Our `--save-logits` / `--save-output` Parquet has the schema of the files Birder 0.8.4 wrote
    /// (`_init_parquet_writer` + `save_logits_parquet` / `save_output_parquet`, in
    /// Tests/Fixtures/cli), and reads back exactly, across row groups.
    @Test(arguments: [(ParquetScoresEncoder.Kind.logits, "cli/birder_logits.parquet"), (.output, "cli/birder_output.parquet")])
    func matchesBirdersSchemaAndReadsBack(kind: ParquetScoresEncoder.Kind, birderFile: String) throws {
        let birders = try FlatParquet(path: Fixtures.path(birderFile))
        let samples = ["labelled/Coleoptera/a_chelsea.jpg", "dir/ünï,\"q\".png", "", "x/y.webp", "z.bmp"]
        let labels: [Int64] = [0, 3, -1, 2, -1]
        let scores: [Float] = (0..<(samples.count * 4)).map { Float($0 % 7) * 0.37 - 1.1 }
        var encoder = ParquetScoresEncoder(classNames: Self.classes, kind: kind, withLabels: true, rowGroupRows: 2)
        var bytes = encoder.append(samples: Array(samples.prefix(3)), labels: Array(labels.prefix(3)), scores: Array(scores.prefix(12)))
        #expect(bytes.count > 4, "the first full row group is handed out at once")
        bytes += encoder.append(samples: Array(samples.suffix(2)), labels: Array(labels.suffix(2)), scores: Array(scores.suffix(8)))
        bytes += encoder.finish()
        #expect(encoder.byteCount == bytes.count)
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("scores-\(UUID().uuidString).parquet").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        try Data(bytes).write(to: URL(fileURLWithPath: path))

        let ours = try FlatParquet(path: path)
        #expect(ours.layout == birders.layout, "ours \(ours.layout)\nBirder's \(birders.layout)")
        #expect(ours.rowGroups == 3)
        #expect(ours.strings("sample") == samples)
        #expect(ours.int64s("label") == labels)
        for (c, name) in Self.classes.enumerated() {
            #expect(ours.floats(name)?.map(\.bitPattern) == (0..<samples.count).map { scores[$0 * 4 + c].bitPattern })
        }
        if kind == .output {
            #expect(ours.strings("prediction") == (0..<samples.count).map { row in
                let values = Array(scores[(row * 4)..<(row * 4 + 4)])
                return Self.classes[values.firstIndex(of: values.max()!)!]  // numpy's argmax: the first maximum
            })
        } else {
            #expect(ours.strings("prediction") == nil)
        }
        // Birder's own file: its three rows, as the fixture script wrote them
        #expect(birders.strings("sample")?.count == 3 && birders.int64s("label") == [0, 3, -1])
    }

    @Test func anEmptyFileHasTheSchema() throws {
        var encoder = ParquetScoresEncoder(classNames: ["a", "b"], kind: .logits, withLabels: false)
        let bytes = encoder.finish()
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("scores-\(UUID().uuidString).parquet").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        let file = try FlatParquet(path: path)
        #expect(file.schema.map(\.name) == ["schema", "sample", "a", "b"])
        #expect(file.rowGroups == 0)
    }
}
