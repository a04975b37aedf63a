import Foundation
import Testing
import BirderCore
import BirderTestSupport
@testable import BirderIO

private func parquetFixture(_ name: String) -> String { Fixtures.path("parquet/\(name)") }

private func parquetExpected() throws -> JSONValue {
    let data = try Data(contentsOf: URL(fileURLWithPath: parquetFixture("expected.json")))
    return try JSONValue.parse(String(decoding: data, as: UTF8.self))
}

/// Rows for the writer's tests: names with separators, non-ASCII and empty text, labels with
/// Birder's -1, values with signed zeros, infinities and NaN bit patterns.
private func sampleRows(_ count: Int, dimension: Int) -> (samples: [String], labels: [Int64], values: [Float]) {
    var generator = TestRandom(seed: UInt64(count * 31 + dimension))
    let samples = (0..<count).map { i in i == 1 ? "dir/ünï,\"code\" ∑.png" : i == 2 ? "" : "photos/class_\(i % 4)/img_\(i).jpeg" }
    let labels = (0..<count).map { Int64($0 % 5) - 1 }
    var values = generator.floats(count * dimension, scale: 3)
    if values.count > 3 {
        values[0] = -0.0
        values[1] = .infinity
        values[2] = Float(bitPattern: 0x7FC0_1234)
    }
    return (samples, labels, values)
}

@Suite struct ParquetReaderTests {
    /// Files written by Birder's own writer (pyarrow: snappy, dictionary pages, two row groups),
    /// by pyarrow with zstd/PLAIN, data page v2, many small row groups and pages, and by polars
    /// read back exactly: names, labels, and every embedding bit.
    @Test(arguments: ["birder_embeddings.parquet", "birder_embeddings_nolabel.parquet", "zstd_plain.parquet",
                      "v2_pages.parquet", "uncompressed_many_groups.parquet", "polars.parquet"])
    func readsBirderAndPyarrowFiles(name: String) throws {
        let expected = try #require(try parquetExpected()[name])
        let rows = try ParquetEmbeddingsReader.readAll(path: parquetFixture(name))
        #expect(rows.samples == expected["samples"]?.arrayValue?.compactMap(\.stringValue))
        let dimension = try #require(expected["dimension"]?.intValue)
        #expect(rows.dimension == dimension)
        let bits = try #require(expected["embedding_bits"]?.arrayValue).compactMap(\.intValue)
        #expect(rows.embeddings.map { Int($0.bitPattern) } == bits)
        if let labels = expected["labels"]?.arrayValue {
            #expect(rows.labels == labels.map { $0.intValue.map(Int64.init) })
        } else {
            #expect(rows.labels == nil)
        }
    }

    @Test func readsRowGroupsOneAtATime() throws {
        let reader = try ParquetEmbeddingsReader(path: parquetFixture("uncompressed_many_groups.parquet"))
        #expect(reader.rowGroupCount == 4 && reader.rowCount == 10 && reader.hasLabels)
        let counts = try (0..<reader.rowGroupCount).map { try reader.rows(inGroup: $0).samples.count }
        #expect(counts == [3, 3, 3, 1])
    }

    /// Birder's `--save-output` Parquet has scores per class, no embedding: refused by name.
    @Test func refusesAFileWithoutEmbeddings() throws {
        let path = parquetFixture("birder_output.parquet")
        #expect {
            _ = try ParquetEmbeddingsReader.readAll(path: path)
        } throws: { error in
            guard let error = error as? BirderIOError else { return false }
            return error.path == path && error.reason.contains("no float32 list column `embedding`")
                && error.reason.contains("prediction")
        }
    }

    /// Damaged files (made by the fixture script; pyarrow refuses each too) are refused with the
    /// file named, never read as something else.
    @Test(arguments: ["hostile_truncated_footer.parquet", "hostile_footer_past_end.parquet", "hostile_cut.parquet",
                      "hostile_not_parquet.parquet", "hostile_page_overrun.parquet"])
    func refusesDamagedFiles(name: String) throws {
        let expected = try #require(try parquetExpected()[name])
        #expect(expected["pyarrow"]?.stringValue != "read", "pyarrow refuses \(name) too")
        let path = parquetFixture(name)
        #expect {
            _ = try ParquetEmbeddingsReader.readAll(path: path)
        } throws: { error in
            (error as? BirderIOError)?.path == path
        }
    }

    /// Every prefix and thousands of seeded byte flips of a Birder-written file either read or
    /// are refused with a BirderIOError — no trap, no hang, no huge allocation.
    @Test func survivesCorruption() throws {
        let original = try Data(contentsOf: URL(fileURLWithPath: parquetFixture("birder_embeddings.parquet")))
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("fuzz.parquet").path
        var generator = TestRandom(seed: 15)
        var refused = 0, read = 0
        func attempt(_ bytes: [UInt8]) throws {
            try Data(bytes).write(to: URL(fileURLWithPath: path))
            do {
                _ = try ParquetEmbeddingsReader.readAll(path: path)
                read += 1
            } catch {
                #expect(error.path == path)
                refused += 1
            }
        }
        let bytes = [UInt8](original)
        for length in stride(from: 0, to: bytes.count, by: 7) { try attempt(Array(bytes[..<length])) }
        for _ in 0..<800 {
            var mutated = bytes
            for _ in 0...(generator.next() % 4) {
                let at = Int(generator.next() % UInt64(bytes.count))
                mutated[at] = UInt8(truncatingIfNeeded: generator.next())
            }
            try attempt(mutated)
        }
        #expect(refused > 500 && read > 0, "refused \(refused), read \(read)")
    }

    @Test func snappyRefusesBadBackReferences() {
        // length 4, then a copy of 4 bytes at offset 1 with nothing written yet
        let stream: [UInt8] = [4, 0b000_000_01, 1]
        #expect(throws: PageCompression.Failure.self) {
            try withBytes(stream) { (raw) throws(PageCompression.Failure) in _ = try PageCompression.snappy(raw, expectedSize: 4) }
        }
        // a literal of 2 bytes announced as 3 bytes of output, and a run that overlaps itself
        let literal: [UInt8] = [3, 0b1_00, 0x61, 0x62]
        #expect(throws: PageCompression.Failure.self) {
            try withBytes(literal) { (raw) throws(PageCompression.Failure) in _ = try PageCompression.snappy(raw, expectedSize: 3) }
        }
        let run: [UInt8] = [6, 0b0_00, 0x61, 0b000_001_01, 1]
        let decoded = try? withBytes(run) { (raw) throws(PageCompression.Failure) in try PageCompression.snappy(raw, expectedSize: 6) }
        #expect(decoded == Array("aaaaaa".utf8))
    }
}

@Suite struct ParquetWriterTests {
    /// What the writer writes reads back bit for bit, whatever the row-group size.
    @Test(arguments: [(1, 1), (3, 5), (100, 7), (2, 1)])
    func roundTrips(rowGroupRows: Int, dimension: Int) throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        for withLabels in [false, true] {
            let (samples, labels, values) = sampleRows(11, dimension: dimension)
            let path = dir.appendingPathComponent("out-\(withLabels).parquet").path
            try ParquetEmbeddingsFile.write(samples: samples, labels: withLabels ? labels : nil, embeddings: values,
                                            dimension: dimension, to: path, rowGroupRows: rowGroupRows)
            let reader = try ParquetEmbeddingsReader(path: path)
            #expect(reader.rowGroupCount == (11 + rowGroupRows - 1) / rowGroupRows)
            let back = try ParquetEmbeddingsReader.readAll(path: path)
            #expect(back.samples == samples)
            #expect(back.dimension == dimension)
            #expect(back.embeddings.map(\.bitPattern) == values.map(\.bitPattern))
            #expect(back.labels == (withLabels ? labels.map { Optional($0) } : nil))
        }
    }

    @Test func anEmptyFileHasTheSchemaAndNoRows() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("empty.parquet").path
        try ParquetEmbeddingsFile.write(samples: [], labels: [], embeddings: [], dimension: 4, to: path)
        let reader = try ParquetEmbeddingsReader(path: path)
        #expect(reader.rowCount == 0 && reader.rowGroupCount == 0 && reader.hasLabels)
    }

    /// The encoder holds at most one row group: rows are handed out as soon as a group fills.
    @Test func handsOutEachRowGroupWhenFull() {
        var encoder = ParquetEmbeddingsEncoder(dimension: 2, withLabels: false, rowGroupRows: 3)
        let (samples, _, values) = sampleRows(7, dimension: 2)
        let first = encoder.append(samples: Array(samples[0..<2]), embeddings: Array(values[0..<4]))
        #expect(first == Array("PAR1".utf8) && encoder.pendingRows == 2 && encoder.rowsWritten == 0)
        let second = encoder.append(samples: Array(samples[2..<7]), embeddings: Array(values[4..<14]))
        #expect(second.count > 0 && encoder.pendingRows == 1 && encoder.rowsWritten == 6)
        #expect(encoder.byteCount == first.count + second.count)
    }

    /// A run cut at any recorded byte count and resumed there writes the same bytes as one that
    /// was never interrupted.
    @Test func resumesByteIdentically() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let (samples, labels, values) = sampleRows(13, dimension: 3)
        let batches = stride(from: 0, to: 13, by: 2).map { $0..<min($0 + 2, 13) }

        var encoder = ParquetEmbeddingsEncoder(dimension: 3, withLabels: true, rowGroupRows: 2)
        var whole: [UInt8] = []
        var checkpoints: [(length: Int, rows: Int)] = []
        for batch in batches {
            whole += encoder.append(samples: Array(samples[batch]), labels: Array(labels[batch]),
                                    embeddings: Array(values[(batch.lowerBound * 3)..<(batch.upperBound * 3)]))
            checkpoints.append((encoder.byteCount, encoder.rowsWritten))
        }
        whole += encoder.finish()

        let path = dir.appendingPathComponent("partial.parquet").path
        for (length, rows) in checkpoints {
            // What an interrupted run leaves: its bytes up to the checkpoint, and some of the next batch.
            try Data(whole[0..<min(length + 17, whole.count)]).write(to: URL(fileURLWithPath: path))
            truncate(path, off_t(length))
            var resumed = try ParquetEmbeddingsEncoder(resuming: path, length: length, dimension: 3, withLabels: true, rowGroupRows: 2)
            #expect(resumed.rowsWritten == rows)
            var bytes = Array(whole[0..<length])
            for batch in batches where batch.lowerBound >= rows {
                bytes += resumed.append(samples: Array(samples[batch]), labels: Array(labels[batch]),
                                        embeddings: Array(values[(batch.lowerBound * 3)..<(batch.upperBound * 3)]))
            }
            bytes += resumed.finish()
            #expect(bytes == whole, "resumed at \(length)")
        }
    }

    @Test func refusesToResumeInsideARowGroup() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let (samples, _, values) = sampleRows(4, dimension: 2)
        var encoder = ParquetEmbeddingsEncoder(dimension: 2, withLabels: false, rowGroupRows: 2)
        let bytes = encoder.append(samples: samples, embeddings: values)
        let path = dir.appendingPathComponent("partial.parquet").path
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        #expect(throws: BirderIOError.self) {
            _ = try ParquetEmbeddingsEncoder(resuming: path, length: bytes.count - 5, dimension: 2, withLabels: false, rowGroupRows: 2)
        }
        // a different dimension does not fit the pages
        #expect(throws: BirderIOError.self) {
            _ = try ParquetEmbeddingsEncoder(resuming: path, length: bytes.count, dimension: 4, withLabels: false, rowGroupRows: 2)
        }
        let resumed = try ParquetEmbeddingsEncoder(resuming: path, length: bytes.count, dimension: 2, withLabels: false, rowGroupRows: 2)
        #expect(resumed.rowsWritten == 4)
    }

    /// The footer's Thrift reads back to what was written.
    @Test func footerRoundTripsThroughThrift() throws {
        var encoder = ParquetEmbeddingsEncoder(dimension: 5, withLabels: true, rowGroupRows: 2)
        let (samples, labels, values) = sampleRows(5, dimension: 5)
        _ = encoder.append(samples: samples, labels: labels, embeddings: values)
        let metadata = encoder.metadata
        let decoded = try withBytes(metadata.encoded()) { (raw) throws(ThriftError) in
            var reader = ThriftReader(raw)
            return try ParquetFileMetadata(thrift: try reader.readStruct())
        }
        #expect(decoded == metadata)
        #expect(decoded.keyValues.first?.key == "ARROW:schema")
    }
}
