import ArgumentParser
import Birder

struct BirderCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "birder",
        abstract: "Run Birder's biodiversity image models natively: predictions, embeddings, feature maps.",
        subcommands: [InfoCommand.self])
}

BirderCommand.main()
