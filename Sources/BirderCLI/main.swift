import ArgumentParser
import Birder

struct BirderCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "birder",
        abstract: "Run Birder's biodiversity image models natively: predictions, embeddings, feature maps.",
        discussion: """
        Start with:
          birder download rdnet_t_ibot-bioscan5m --head species
          birder predict photos/ --model rdnet_t_ibot-bioscan5m --head species
          birder embed photos/ --model rdnet_t_ibot-bioscan5m --output embeddings.npy
        """,
        subcommands: [PredictCommand.self, EmbedCommand.self, FeaturesCommand.self, DownloadCommand.self, ModelsCommand.self, InfoCommand.self, ProbeCommand.self, ClusterCommand.self, BenchCommand.self, ServeCommand.self])
}

// Before any command runs, so no output file can exist yet while a signal would kill the process
// without removing it.
Interrupt.install()
BirderCommand.main()
