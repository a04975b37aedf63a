import BirderTestSupport
import Foundation
import Testing

/// The README's Swift code is the example targets' source, character for character, so the
/// documented API is the one CI compiles.
@Suite struct ReadmeExamplesTests {
    static let repository = Fixtures.root.deletingLastPathComponent().deletingLastPathComponent()

    /// The bodies of the README's ```swift blocks, in order.
    static func readmeSwiftBlocks() throws -> [String] {
        let readme = try String(contentsOf: repository.appendingPathComponent("README.md"), encoding: .utf8)
        var blocks: [String] = [], current: [Substring]?
        for line in readme.split(separator: "\n", omittingEmptySubsequences: false) {
            if current == nil, line == "```swift" {
                current = []
            } else if current != nil, line == "```" {
                blocks.append(current!.joined(separator: "\n") + "\n")
                current = nil
            } else {
                current?.append(line)
            }
        }
        return blocks
    }

    @Test func readmeSwiftBlocksAreTheExampleTargets() throws {
        let examples = Self.repository.appendingPathComponent("Examples")
        // Examples/photos holds the pictures the README's first command runs on, not a target.
        let sources = try FileManager.default.contentsOfDirectory(atPath: examples.path).sorted()
            .map { examples.appendingPathComponent($0).appendingPathComponent("main.swift") }
            .filter { FileManager.default.fileExists(atPath: $0.path) }
            .map { try String(contentsOf: $0, encoding: .utf8) }
        let blocks = try Self.readmeSwiftBlocks()
        #expect(sources.count == 2)
        #expect(blocks.count == sources.count, "README has \(blocks.count) swift blocks, Examples/ has \(sources.count) targets")
        #expect(Set(blocks) == Set(sources), "a README swift block differs from its Examples/*/main.swift")
        // The first example is the short one the README promises: at most 6 lines.
        let classify = try #require(blocks.first)
        #expect(classify.split(separator: "\n").count <= 6)
    }
}
