import ArgumentParser
import Birder
import Foundation

struct BirderCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "birder",
        abstract: "Run Birder's biodiversity image models natively: predictions, embeddings, feature maps.",
        discussion: """
        Start with (a published model and its heads are fetched on first use, verified, into
        ./models if it exists, else ~/.cache/birder/models; --offline never fetches):
          birder predict photos/ --model rdnet_t_ibot-bioscan5m --head species
          birder embed photos/ --model rdnet_t_ibot-bioscan5m --output embeddings.npy
          birder download rdnet_t_ibot-bioscan5m --head species   (fetch ahead, e.g. to copy elsewhere)
        """,
        version: BirderVersion.engine + " (outputs of " + BirderVersion.reference + ")",
        subcommands: [PredictCommand.self, EmbedCommand.self, FeaturesCommand.self, ManifestCommand.self, MergeCommand.self, DownloadCommand.self, ModelsCommand.self, InfoCommand.self, ProbeCommand.self, ClusterCommand.self, BenchCommand.self, ServeCommand.self])
}

// Before any command runs, so no output file can exist yet while a signal would kill the process
// without removing it.
Interrupt.install()
// The arguments with their exact bytes: a photo or folder whose name is not UTF-8 stays openable.
let arguments = Array(FileSystemPath.commandLineArguments().dropFirst())
do {
    var command = try BirderCommand.parseAsRoot(arguments)
    try command.run()
} catch {
    // A usage error found while parsing (an unknown option, a value that does not parse, e.g.
    // `--format xml`) exits 2 like every other usage error of this tool, not ArgumentParser's 64.
    if BirderCommand.exitCode(for: error) == .validationFailure {
        FileHandle.standardError.write(Data((BirderCommand.fullMessage(for: error) + "\n").utf8))
        exit(2)
    }
    BirderCommand.exit(withError: error)
}
