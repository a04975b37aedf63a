import Birder
import Foundation
import Testing
import BirderTestSupport

/// The README's set-up command ends in `birder predict` with the published model: the CLI accepts
/// that command line, and the output the README shows is what it prints (against a loopback mirror
/// serving a stand-in, as the README says; no machine here reaches the hub).
@Suite(.serialized) struct ReadmeFirstCommandTests {
    static let repository = Fixtures.root.deletingLastPathComponent().deletingLastPathComponent()

    static func readme() throws -> String {
        try String(contentsOf: repository.appendingPathComponent("README.md"), encoding: .utf8)
    }

    /// The bodies of the README's code blocks opened by "```" + `language`, in order.
    static func blocks(_ language: String) throws -> [[String]] {
        var blocks: [[String]] = [], current: [String]?
        for line in try readme().split(separator: "\n", omittingEmptySubsequences: false) {
            if current == nil, line == "```" + language {
                current = []
            } else if current != nil, line == "```" {
                blocks.append(current!)
                current = nil
            } else {
                current?.append(String(line))
            }
        }
        return blocks
    }

    /// The arguments of the `birder` that ends the first shell command.
    static func firstCommandArguments() throws -> [String] {
        let first = try #require(try blocks("sh").first)
        #expect(first.count == 1, "the set-up is one command line")
        let last = try #require(first.first?.components(separatedBy: " && ").last)
        let words = last.split(separator: " ").map(String.init)
        #expect(words.first == ".build/release/birder", "the set-up command ends in .build/release/birder: \(last)")
        return Array(words.dropFirst())
    }

    @Test func theTestCommandIsTheSecond() throws {
        let commands = try Self.blocks("sh")
        #expect(commands.count >= 2 && commands[1] == ["swift test"])
    }

    @Test func theFirstCommandPredictsWithThePublishedModelAndTheCLIAcceptsIt() throws {
        let arguments = try Self.firstCommandArguments()
        #expect(arguments.first == "predict")
        #expect(arguments.contains("rdnet_t_ibot-bioscan5m") && arguments.contains("species"))
        // Offline with an empty models directory: the command line parses, and the one error is
        // the missing model and head, with the command that fetches them.
        let models = try BirderProcess.temporaryDirectory()
        let result = try BirderProcess.run(arguments, environment: ["BIRDER_OFFLINE": "1", "BIRDER_MODELS_DIR": models.path],
                                           directory: Self.repository)
        #expect(result.status == 2)
        #expect(result.stderr.hasPrefix("error: rdnet_t_ibot-bioscan5m.pt and rdnet_t_ibot-bioscan5m-species.head.pt are not in \(models.path)"),
                "\(result.stderr)")
        #expect(result.stderr.contains("`birder download rdnet_t_ibot-bioscan5m --head species --models-dir birder-models`"))
        #expect(!result.stderr.contains("Usage:"))
    }

    /// The README's console block after the set-up is this command's stdout against a loopback
    /// mirror serving the tiny test checkpoint as the published model: same rows, classes and
    /// ranks, probabilities to 1e-4 (the kernel set may move the last digits).
    @Test func theShownOutputIsWhatTheCommandPrintsAgainstAMirrorWithAStandIn() throws {
        let arguments = try Self.firstCommandArguments()
        let shown = try #require(try Self.blocks("console").first { $0.first == "$ .build/release/birder " + arguments.joined(separator: " ") },
                                 "no console block shows the set-up's birder command")
        let hub = try StandInHub(name: "rdnet_t_ibot-bioscan5m", level: "species")
        defer { hub.server.stop() }
        var environment = hub.environment
        environment["BIRDER_MODELS_DIR"] = hub.root.appendingPathComponent("models").path
        let result = try BirderProcess.run(arguments, environment: environment, directory: Self.repository)
        #expect(result.status == 0, "\(result.stderr)")
        #expect(hub.gets(hub.checkpointPath) == 1 && hub.gets(hub.headPath) == 1)
        let printed = result.stdout.split(separator: "\n").map(String.init)
        let expected = Array(shown.dropFirst())
        #expect(printed.count == expected.count, "printed:\n\(result.stdout)")
        for (line, reference) in zip(printed, expected) {
            let fields = line.split(separator: ",", omittingEmptySubsequences: false)
            let referenceFields = reference.split(separator: ",", omittingEmptySubsequences: false)
            #expect(fields.count == referenceFields.count, "\(line) vs \(reference)")
            for (field, referenceField) in zip(fields, referenceFields) {
                if let value = Double(field), let referenceValue = Double(referenceField), field.contains(".") {
                    #expect(abs(value - referenceValue) <= 1e-4, "\(line) vs \(reference)")
                } else {
                    #expect(field == referenceField, "\(line) vs \(reference)")
                }
            }
        }
    }
}
