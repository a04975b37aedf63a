import ArgumentParser
import Birder
import Foundation

struct FeaturesCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "features",
        abstract: "Detection feature maps of one image: one 1×C×H×W tensor per stage, in a .safetensors file.",
        discussion: """
        RDNet gives stage1…stage4 (strides 4, 8, 16, 32); ViT gives stage1 (the encoder output
        before the final norm, without the class token; `neck` is accepted as its name).

        Example:
          birder features photo.jpg --model rdnet_t_ibot-bioscan5m --output photo-features.safetensors
        """)

    @OptionGroup var model: ModelOptions

    @Argument(help: "The image.")
    var image: String

    @Option(name: .long, help: "Output .safetensors file.")
    var output: String

    @Option(name: .long, help: "Only these stages (repeatable; default: all).")
    var stage: [String] = []

    @Flag(name: .long, help: "Rotate the image as its EXIF orientation says (Birder and PIL ignore it).")
    var applyExifOrientation = false

    func validate() throws {
        guard output.lowercased().hasSuffix(".safetensors") else { throw ValidationError("--output must end in .safetensors") }
    }

    func run() throws {
        try reportingErrors {
            let (path, network) = try model.resolveCheckpoint()
            try OutputSink.checkWritable(output)
            let loaded = try LoadedModel.load(path: path, network: network)
            let names = loaded.encoder.stageNames
            let wanted = stage.map { $0 == "neck" && !names.contains("neck") ? (names.first ?? $0) : $0 }
            for name in wanted where !names.contains(name) {
                throw CLIError.usage("\(network) has no stage '\(name)' (stages: \(names.joined(separator: ", ")))")
            }
            let height = loaded.inputSize[0], width = loaded.inputSize[1]
            let transform = InferenceTransform(height: height, width: width, stats: loaded.rgbStats)
            let decoded: RGBImage
            do {
                decoded = try ImageDecoder.decode(path: image, options: ImageDecodeOptions(applyEXIFOrientation: applyExifOrientation))
            } catch {
                Terminal.error(InferenceRunner.describe(error, path: image))
                throw ExitCode(1)
            }
            let batch = Tensor(shape: [1, height, width, 3]) { transform.write(decoded, into: $0.baseAddress!) }
            let features = try loaded.encoder.detectionFeatures(batch)
                .filter { wanted.isEmpty || wanted.contains($0.name) }
            try Safetensors.write(StateDict(float32: features.map { ($0.name, $0.features) }),
                                  metadata: ["network": network, "image": image], to: output)
            for (name, tensor) in features {
                Terminal.note("\(name): \(tensor.shape.map(String.init).joined(separator: "×"))")
            }
        }
    }
}
