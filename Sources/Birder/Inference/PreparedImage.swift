import BirderCore
import BirderVision
import Foundation

/// An image decoded and transformed (resized, cropped, normalised) to a session's model input
/// ahead of its batch — or the error that stopped it — so that decoding can run apart from the
/// batches, as `birder serve` does for each upload on arrival. Passed back as
/// `ImageInput.prepared`, it gives exactly what the same image gives unprepared.
public struct PreparedImage: Sendable {
    public let name: String
    /// H×W×3 floats of `transform`, or why the image could not be read.
    let pixels: Result<[Float], any Error>
    /// The transform that made the pixels: a session with another one refuses them.
    let transform: InferenceTransform

    /// The image could not be read (its error is the one an unprepared input would give).
    public var failed: Bool { if case .failure = pixels { return true } else { return false } }

    /// Writes the pixels into one batch slot, or throws the reason the image could not be read.
    func write(into output: UnsafeMutablePointer<Float>, transform: InferenceTransform) throws {
        guard transform == self.transform else { throw PreparedImageError.otherTransform(name: name) }
        let values = try pixels.get()
        values.withUnsafeBufferPointer { output.update(from: $0.baseAddress!, count: $0.count) }
    }
}

public enum PreparedImageError: Error, CustomStringConvertible {
    case otherTransform(name: String)
    /// Asked for its decoded pixels, which a prepared image no longer has.
    case alreadyTransformed(name: String)

    public var description: String {
        switch self {
        case let .otherTransform(name): return "\(name) was prepared for a model with another input transform"
        case let .alreadyTransformed(name): return "\(name) is already transformed for a model; its decoded pixels are gone"
        }
    }
}

extension InferenceSession {
    /// Decodes and transforms `input` for this session's model now (on the calling thread); a
    /// failure is kept in the result and reported when the image runs, as it would be unprepared.
    public func prepare(_ input: ImageInput) -> PreparedImage {
        if case let .prepared(image) = input { return image }
        // The formats and resampling of the model's image loader (Birder's `tv` reads fewer formats), as `stream` decodes.
        let transform = model.transform, options = model.preprocessing.imageLoader.restricting(decodeOptions)
        let pixels = Result<[Float], any Error> {
            let image = try input.decode(options: options)
            return [Float](unsafeUninitializedCapacity: transform.elementsPerImage) { buffer, count in
                transform.write(image, into: buffer.baseAddress!)
                count = transform.elementsPerImage
            }
        }
        return PreparedImage(name: input.name, pixels: pixels, transform: transform)
    }
}
