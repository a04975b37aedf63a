import ArgumentParser
import Birder
import Foundation

struct MergeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "merge",
        abstract: "Join the outputs of a sharded predict or embed run, in shard order, into one file.",
        discussion: """
        Every shard must be given once and finished (OUTPUT.done beside it), all of one run: the
        same image list, model and options. The result equals what one process would have written.
        Embeddings may be merged into any embedding format (.npy, .csv, .safetensors); predictions
        into the shards' own format.

        Example:
          birder merge out/emb.shard-*.npy --output emb.npy
        """)

    @Argument(help: ArgumentHelp("The shards' output files.", valueName: "shard-outputs"))
    var shards: [String]

    @Option(name: .long, help: "The merged file (written atomically).")
    var output: String

    func run() throws {
        try reportingErrors {
            try OutputSink.checkWritable(output)
            let bar = ProgressBar(label: "merge", total: Int64(shards.count), unit: "shards")
            let summary: ShardMerge.Summary
            do {
                summary = try ShardMerge.merge(shards, into: output) { done, _ in bar.update(Int64(done)) }
            } catch let error as RunError {
                throw CLIError.usage(error.description)
            } catch let error as EmbeddingFileError {
                throw CLIError.usage(error.description)
            } catch let error as BirderIOError {
                throw CLIError.usage(error.description)
            }
            bar.finish(Int64(shards.count))
            Terminal.note("\(output): \(summary.rows) rows from \(summary.shards) shards"
                + (summary.failed > 0 ? " (\(summary.failed) images had failed in the shards)" : ""))
        }
    }
}
