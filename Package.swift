// swift-tools-version: 6.0
import PackageDescription

// One strict setting set shared by every Swift target (Swift 6 language mode: complete
// concurrency checking; existential `any` spelled out).
let strictSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
]

// BLAS: OpenBLAS through pkg-config on Linux, Accelerate on Apple platforms.
let blas: [Target.Dependency] = [.target(name: "CBLAS", condition: .when(platforms: [.linux]))]
let blasLinker: [LinkerSetting] = [.linkedFramework("Accelerate", .when(platforms: [.macOS, .iOS]))]

let package = Package(
    name: "Birder",
    platforms: [.macOS(.v13)],
    products: [
        .library(name: "Birder", targets: ["Birder"]),
        .executable(name: "birder", targets: ["BirderCLI"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
    ],
    targets: [
        // C libraries found on the system.
        .systemLibrary(
            name: "CBLAS", path: "Sources/CBLAS", pkgConfig: "openblas",
            providers: [.apt(["libopenblas-dev"])]),
        .target(
            name: "CImageCodecs", path: "Sources/CImageCodecs",
            linkerSettings: [.linkedLibrary("jpeg"), .linkedLibrary("png16"), .linkedLibrary("webp")]),

        // Transformer element-wise kernels in C (softmax, bias+GELU, residual+LayerNorm), with an
        // AVX2+FMA build picked at run time and a portable one.
        .target(name: "CTransformerKernels", path: "Sources/CTransformerKernels"),
        // Tensor, threads and the numeric kernels (GEMM through BLAS).
        .target(name: "BirderCore", dependencies: blas + ["CTransformerKernels"], swiftSettings: strictSettings,
                linkerSettings: blasLinker),
        // Checkpoint files: PyTorch .pt (ZIP + restricted pickle), safetensors, .npy.
        .target(name: "BirderIO", dependencies: ["BirderCore"], swiftSettings: strictSettings),
        // Image decoding and Birder's inference transform.
        .target(name: "BirderVision", dependencies: ["BirderCore", "CImageCodecs"], swiftSettings: strictSettings),
        // The networks: RDNet, ViT.
        .target(name: "BirderModels", dependencies: ["BirderCore", "BirderIO"], swiftSettings: strictSettings),
        // Linear probe, UMAP, Ward, AMI.
        .target(name: "BirderEval", dependencies: ["BirderCore", "BirderIO"], swiftSettings: strictSettings),
        // The public library: re-exports the pieces above.
        .target(
            name: "Birder", dependencies: ["BirderCore", "BirderIO", "BirderVision", "BirderModels", "BirderEval"],
            swiftSettings: strictSettings),
        .executableTarget(
            name: "BirderCLI",
            dependencies: ["Birder", .product(name: "ArgumentParser", package: "swift-argument-parser")],
            swiftSettings: strictSettings),

        // Test helpers shared by the test targets (fixture paths, comparisons).
        .target(name: "BirderTestSupport", dependencies: ["BirderCore"], path: "Tests/BirderTestSupport",
                swiftSettings: strictSettings),
        .testTarget(name: "BirderCoreTests", dependencies: ["BirderCore", "BirderTestSupport"], swiftSettings: strictSettings),
        .testTarget(name: "BirderIOTests", dependencies: ["BirderIO", "BirderTestSupport"], swiftSettings: strictSettings),
        .testTarget(name: "BirderVisionTests", dependencies: ["BirderVision", "BirderTestSupport"], swiftSettings: strictSettings),
        .testTarget(name: "BirderModelsTests", dependencies: ["BirderModels", "BirderTestSupport"], swiftSettings: strictSettings),
        .testTarget(name: "BirderEvalTests", dependencies: ["BirderEval", "BirderTestSupport"], swiftSettings: strictSettings),
        .testTarget(name: "BirderCLITests", dependencies: ["BirderTestSupport"], swiftSettings: strictSettings),
    ]
)
