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

    /// The model with these options (unchanged when none is given).
    func apply(to model: BirderModel) throws -> BirderModel {
        guard centerCrop != 1.0 || simpleCrop else { return model }
        do { return try model.withPreprocessing(centerCrop: centerCrop, simpleCrop: simpleCrop) } catch let error as PreprocessingError {
            throw CLIError.usage("--center-crop: \(error.description)")
        }
    }
}
