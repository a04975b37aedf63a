// Birder for Swift: Birder's biodiversity image models, natively.
//
// The library's own API is `BirderModel` (a checkpoint with its heads), `InferenceSession`
// (classify, embed and extract features over images, streamed, per-item errors), `ModelStore`
// (models directory, catalogue, verified downloads) and `ImageCollection`. The modules re-exported
// below add the values those take and return (`Tensor`, `ComputeContext`, `RGBImage`, …), the
// evaluation methods (linear probe, UMAP + Ward + AMI) and the file formats; their internals
// (kernels, packing, weight binding) are `package`-only.
@_exported import BirderCore
@_exported import BirderEval
@_exported import BirderIO
@_exported import BirderModels
@_exported import BirderVision

/// Versions written into the records of a run (`ShardRecord.engine`) and shown by `birder --version`.
public enum BirderVersion {
    /// This engine.
    public static let engine = "birder-swift 0.9.0"
    /// The Birder release whose outputs this engine reproduces.
    public static let reference = "birder \(referenceNumber)"
    /// Its version number, as Birder writes `birder_version` into the files it saves.
    public static let referenceNumber = "0.8.4"
}
