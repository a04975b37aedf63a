import ArgumentParser
import Birder
import Foundation

struct EmbedCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "embed",
        abstract: "Embeddings of images (the encoder's pooled features), one row per image in input order.",
        discussion: """
        The output format follows the file extension:
          .npy          float32 N×D, C order, little-endian, plus FILE.samples.txt (one path per row)
          .csv          Birder's embeddings CSV: sample, then columns 0…D-1
          .safetensors  tensor "embedding" N×D; the sample list as JSON in the metadata key "samples"
          .parquet      Birder's Parquet embeddings (sample, embedding: fixed_size_list<float32>[D]),
                        read by Birder's `python -m birder.eval` tools and by probe/cluster
        Unreadable images are reported on stderr and left out (exit status 1).

        Rows are written as batches complete (memory does not grow with the number of images). A run
        stopped by a signal, a kill or a node failure keeps OUTPUT.partial and its journal
        OUTPUT.journal: the same command with --resume continues it, and the result is
        byte-identical to an uninterrupted run. --shard splits the images for a cluster's array
        job; `birder merge` joins the shards.

        Example:
          birder embed photos/ --model rdnet_t_ibot-bioscan5m --output embeddings.npy
        """)

    @OptionGroup var model: ModelOptions
    @OptionGroup var input: InputOptions

    @Option(name: .long, help: "Output file: .npy, .csv, .safetensors or .parquet (e.g. --output embeddings.parquet).")
    var output: String

    @OptionGroup var runOptions: RunOptions

    @OptionGroup(title: "Preprocessing (Birder's flags)") var preprocessing: PreprocessingOptions

    func validate() throws {
        guard EmbeddingFormat(path: output) != nil else { throw ValidationError("--output must end in .npy, .csv, .safetensors or .parquet") }
        guard model.head.isEmpty else { throw ValidationError("embed takes no --head (heads act on embeddings)") }
    }

    func run() throws {
        try reportingErrors {
            try input.checkRanges()
            try preprocessing.checkRanges()
            let shard = try runOptions.resolvedShard()
            let loaded = try preprocessing.apply(to: model.load())
            let (manifest, skipped) = try input.manifest(shard: shard)
            let session = try input.session(for: loaded)
            let run = CollectionRun(manifest: manifest, shard: shard, output: output, resume: runOptions.resume)
            let failed = try CollectionRunReporter.execute(label: "embed", run: run, summary: { "\($0)×\(loaded.embeddingSize) embeddings" }) { progress, shouldStop in
                try session.embed(run, progress: progress, shouldStop: shouldStop)
            }
            if failed + skipped > 0 { throw CLIError.someInputsFailed(failed + skipped) }
        }
    }
}
