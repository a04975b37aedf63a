import BirderCore

/// Birder's test-time augmentation (`predict --tta`, `infer_batch(tta=True)`): each prepared
/// input (already resized and normalised) is cut into torchvision's five crops of 80 % of each
/// side — top-left, top-right, bottom-left, bottom-right, centre — and each crop is resized back
/// to the input size (`v2.Resize(..., BICUBIC, antialias=True)` on float tensors: PyTorch's
/// antialiased bicubic, A = −0.5, no clamping). The network's outputs on the five views are then
/// averaged (probabilities, or logits when logits are asked for).
enum TestTimeAugmentation {
    /// Views per input.
    static let viewCount = 5

    /// The five N×H×W×3 views of an N×H×W×3 batch, in torchvision's `five_crop` order.
    static func views(of batch: Tensor) -> [Tensor] {
        let n = batch.shape[0], height = batch.shape[1], width = batch.shape[2], channels = batch.shape[3]
        // Python's int(H * 0.8), in double precision as Python computes it.
        let cropHeight = max(1, Int(Double(height) * 0.8)), cropWidth = max(1, Int(Double(width) * 0.8))
        // center_crop: int(round((H - h) / 2.0)), Python's round (half to even).
        let centerTop = Int((Double(height - cropHeight) / 2).rounded(.toNearestOrEven))
        let centerLeft = Int((Double(width - cropWidth) / 2).rounded(.toNearestOrEven))
        let origins = [(0, 0), (0, width - cropWidth), (height - cropHeight, 0),
                       (height - cropHeight, width - cropWidth), (centerTop, centerLeft)]
        let imageFloats = height * width * channels
        return origins.map { top, left in
            Tensor(shape: batch.shape) { out in
                let crop = UnsafeMutablePointer<Float>.allocate(capacity: cropHeight * cropWidth * channels)
                defer { crop.deallocate() }
                batch.withUnsafeBufferPointer { source in
                    for image in 0..<n {
                        let base = source.baseAddress! + image * imageFloats
                        for y in 0..<cropHeight {
                            (crop + y * cropWidth * channels).update(from: base + ((top + y) * width + left) * channels,
                                                                     count: cropWidth * channels)
                        }
                        interpolateGrid(crop, height: cropHeight, width: cropWidth, channels: channels,
                                        outputHeight: height, outputWidth: width, mode: .bicubic, antialias: true,
                                        output: out.baseAddress! + image * imageFloats)
                    }
                }
            }
        }
    }
}
