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

        Example:
          birder embed photos/ --model rdnet_t_ibot-bioscan5m --output embeddings.npy
        """)

    @OptionGroup var model: ModelOptions
    @OptionGroup var input: InputOptions

    @Option(name: .long, help: "Output file: .npy, .csv, .safetensors or .parquet (e.g. --output embeddings.parquet).")
    var output: String

    @OptionGroup(title: "Preprocessing (Birder's flags)") var preprocessing: PreprocessingOptions

    enum Kind { case npy, csv, safetensors, parquet }

    var kind: Kind? {
        switch (output as NSString).pathExtension.lowercased() {
        case "npy": return .npy
        case "csv": return .csv
        case "safetensors": return .safetensors
        case "parquet": return .parquet
        default: return nil
        }
    }

    func validate() throws {
        guard kind != nil else { throw ValidationError("--output must end in .npy, .csv, .safetensors or .parquet") }
        guard model.head.isEmpty else { throw ValidationError("embed takes no --head (heads act on embeddings)") }
    }

    func run() throws {
        try reportingErrors {
            try input.checkRanges()
            let loaded = try preprocessing.apply(to: model.load())
            let (paths, skipped) = try input.collectPaths()
            try OutputSink.checkWritable(output)
            let width = loaded.embeddingSize
            let session = try input.session(for: loaded)
            let (samples, matrix, failed) = try StreamReader.embeddings(session.embed(paths.map(ImageInput.path)), width: width,
                                                                           listed: kind == .npy ? output : nil)
            let rows = matrix.scalars
            switch kind! {
            case .npy:
                try EmbeddingFiles.writeNPY(matrix, samples: samples, to: output)
            case .csv:
                let sink = try OutputSink(path: output)
                try sink.write((["sample"] + (0..<width).map(String.init)).joined(separator: ",") + "\n")
                for (row, sample) in samples.enumerated() {
                    let values = rows[(row * width)..<((row + 1) * width)].map { "\($0)" }
                    try sink.write(([csvField(sample)] + values).joined(separator: ",") + "\n")
                }
                try sink.commit()
            case .safetensors:
                let list = try JSONSerialization.data(withJSONObject: samples, options: [.withoutEscapingSlashes])
                try Safetensors.write(StateDict(float32: [("embedding", matrix)]),
                                      metadata: ["samples": String(decoding: list, as: UTF8.self), "network": loaded.network],
                                      to: output)
            case .parquet:
                try EmbeddingFiles.writeParquet(matrix, samples: samples, to: output)
            }
            Terminal.note("\(output): \(samples.count)×\(width) embeddings")
            if failed + skipped > 0 { throw CLIError.someInputsFailed(failed + skipped) }
        }
    }
}
