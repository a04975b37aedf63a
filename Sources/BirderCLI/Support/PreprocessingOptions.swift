import ArgumentParser
import Birder

/// Birder's preprocessing flags for `predict` and `embed` (names as in `birder-predict`).
struct PreprocessingOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp(
        "Birder's --center-crop: resize to int(size / F), then crop the centre to the input size (default 1.0: no crop).",
        discussion: "e.g. --center-crop 0.875"))
    var centerCrop: Double = 1.0

    @Flag(name: .long, help: "Birder's --simple-crop: resize keeping the aspect ratio to cover the size, then crop the centre.")
    var simpleCrop = false

    @Option(name: .long, help: ArgumentHelp(
        "Birder's --size: run at this resolution instead of the checkpoint's; N for N×N, or H then W (each \(OptionRange.inputSide.text), a multiple of the network's stride: RDNet 32, ViT its patch size). A ViT's position embedding is resized as Birder's adjust_size does.",
        discussion: "e.g. --size 256, or --size 224 --size 320", valueName: "side"))
    var size: [Int] = []

    @Option(name: .long, help: ArgumentHelp(
        "Birder's --img-loader: pil (PIL decode and resize, as the model cards; every format) or tv (torchvision's decode_image and uint8 resize, birder-predict's default; JPEG, PNG and WebP only).",
        discussion: "e.g. --img-loader tv to match numbers from birder-predict run with its defaults", valueName: "pil|tv"))
    var imgLoader = "pil"

    /// `--img-loader` checked here rather than by the parser, so a bad value is a usage error
    /// (`error: …`, exit status 2) like every other bad value.
    var imageLoader: ImageLoader {
        get throws {
            guard let loader = ImageLoader(rawValue: imgLoader) else {
                throw CLIError.usage("--img-loader \(imgLoader) is not one of pil, tv")
            }
            return loader
        }
    }

    /// Refuses values outside their documented ranges before anything is loaded.
    func checkRanges() throws {
        guard size.count <= 2 else { throw CLIError.usage("--size takes one side (N×N) or two, H then W (got \(size.count) values)") }
        for side in size { try OptionRange.inputSide.check(side) }
        _ = try imageLoader
    }

    /// The model with these options (unchanged when none is given).
    func apply(to model: BirderModel) throws -> BirderModel {
        try checkRanges()
        var model = model
        if let height = size.first {
            do { model = try model.withInputSize(ImageSize(height: height, width: size.last!)) } catch let error as PreprocessingError {
                throw CLIError.usage("--size: \(error.description)")
            }
        }
        let loader = try imageLoader
        guard centerCrop != 1.0 || simpleCrop || loader != .pil else { return model }
        do {
            return try model.withPreprocessing(centerCrop: centerCrop, simpleCrop: simpleCrop, imageLoader: loader)
        } catch let error as PreprocessingError {
            throw CLIError.usage("--center-crop: \(error.description)")
        }
    }
}
