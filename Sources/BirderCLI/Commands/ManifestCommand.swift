import ArgumentParser
import Birder
import Foundation

struct ManifestCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "manifest",
        abstract: "List a collection's images once (path, size, mtime, in the order rows are written) for --files-from.",
        discussion: """
        A manifest fixes which image is row i for every shard and every resumed run, and spares walking
        millions of files each time. Its first line records the image count and a SHA-256 of the path
        list; `predict`/`embed --files-from` refuse a manifest edited since.

        Example:
          birder manifest /data/bioscan/ --output manifest.tsv
          birder embed --files-from manifest.tsv --model rdnet_t_ibot-bioscan5m --output emb.npy --shard 0/8
        """)

    @Argument(help: ArgumentHelp("Image files and directories (searched recursively).", valueName: "images-or-dirs"))
    var inputs: [String]

    @Option(name: .long, help: "Write the manifest to this file (atomically) instead of stdout.")
    var output: String?

    func run() throws {
        try reportingErrors {
            if let output { try OutputSink.checkWritable(output) }
            let found: (manifest: ImageManifest, scan: ImageScan)
            do { found = try ImageManifest.scan(inputs) } catch { throw CLIError.usage(String(describing: error)) }
            InputOptions.report(found.scan)
            let sink = try output.map(OutputSink.init(path:)) ?? OutputSink()
            do {
                try found.manifest.tsvChunks { try sink.write(Data($0)) }
                try sink.commit()
            } catch {
                sink.discard()
                throw error
            }
            if let output {
                Terminal.note("\(output): \(found.manifest.count) images, list-sha256 \(found.manifest.listHash.prefix(16))…")
            }
            if !found.scan.unreadableFolders.isEmpty { throw CLIError.someInputsFailed(found.scan.unreadableFolders.count) }
        }
    }
}
