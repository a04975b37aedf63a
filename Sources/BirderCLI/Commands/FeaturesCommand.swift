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
            let loaded = try model.load()
            try OutputSink.checkWritable(output)
            let session = try InferenceSession(model: loaded, batchSize: 1,
                                               decodeOptions: ImageDecodeOptions(applyEXIFOrientation: applyExifOrientation))
            let stream: InferenceStream<FeatureMaps>
            do { stream = try session.features([.path(image)], stages: stage) } catch let error as SessionError {
                throw CLIError.usage(error.description)
            }
            guard let item = stream.next() else { return }
            let maps: FeatureMaps
            switch item.result {
            case let .success(value): maps = value
            case let .failure(error):
                Terminal.error(error.description)
                throw ExitCode(1)
            }
            try Safetensors.write(StateDict(float32: maps.stages.map { ($0.name, $0.features) }),
                                  metadata: ["network": loaded.network, "image": image], to: output)
            for (name, tensor) in maps.stages {
                Terminal.note("\(name): \(tensor.shape.map(String.init).joined(separator: "×"))")
            }
        }
    }
}
