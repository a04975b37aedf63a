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
        .package(url: "https://github.com/apple/swift-crypto", from: "3.12.0"),
        // `birder serve`: HTTP server, graceful shutdown, Prometheus text, multipart bodies.
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.0.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.6.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.0.0"),
        .package(url: "https://github.com/vapor/multipart-kit", from: "4.7.0"),
        .package(url: "https://github.com/apple/swift-http-types", from: "1.0.0"),
    ],
    targets: [
        // C libraries found on the system.
        .systemLibrary(
            name: "CBLAS", path: "Sources/CBLAS", pkgConfig: "openblas",
            providers: [.apt(["libopenblas-dev"])]),
        .systemLibrary(name: "CZstd", path: "Sources/CZstd", providers: [.apt(["libzstd-dev"]), .brew(["zstd"])]),
        // libcurl for downloads (typed wrappers of its variadic calls): FoundationNetworking's URLSession
        // traps on a Content-Length near 2^63 before any delegate sees it.
        .target(name: "CCurl", path: "Sources/CCurl", linkerSettings: [.linkedLibrary("curl")]),
        .target(
            name: "CImageCodecs", path: "Sources/CImageCodecs",
            linkerSettings: [.linkedLibrary("jpeg"), .linkedLibrary("png16"), .linkedLibrary("webp"), .linkedLibrary("webpdemux"), .linkedLibrary("tiff")]),

        // Cairo draws the PNG and PDF renderings of reports.
        .systemLibrary(name: "CCairo", path: "Sources/CCairo", pkgConfig: "cairo", providers: [.apt(["libcairo2-dev"]), .brew(["cairo"])]),

        // Hot loops in C, one function table per instruction set (arch/portable, arch/x86_avx2),
        // chosen once per compute context: packed GEMM with fused epilogues, depthwise conv +
        // LayerNorm, and the transformer element-wise kernels (softmax, bias+GELU, residual+LayerNorm).
        .target(name: "CBirderKernels", path: "Sources/CBirderKernels"),
        // Tensor, the compute context (threads, kernel set) and the numeric kernels.
        .target(name: "BirderCore", dependencies: blas + ["CBirderKernels"], swiftSettings: strictSettings,
                linkerSettings: blasLinker),
        // Checkpoint files: PyTorch .pt (ZIP + restricted pickle), safetensors, .npy; Parquet
        // embeddings (zstd pages through libzstd).
        .target(name: "BirderIO", dependencies: ["BirderCore", "CZstd"], swiftSettings: strictSettings),
        // Image decoding and Birder's inference transform.
        .target(name: "BirderVision", dependencies: ["BirderCore", "CImageCodecs"], swiftSettings: strictSettings),
        // The networks: RDNet, ViT.
        .target(name: "BirderModels", dependencies: ["BirderCore", "BirderIO"], swiftSettings: strictSettings),
        // Linear probe, UMAP, Ward, AMI.
        .target(name: "BirderEval", dependencies: ["BirderCore", "BirderIO"], swiftSettings: strictSettings),
        // Downloads of published checkpoints: resumable, verified, atomic.
        .target(
            name: "BirderHub", dependencies: ["BirderIO", "BirderModels", "CCurl", .product(name: "Crypto", package: "swift-crypto")],
            swiftSettings: strictSettings),
        // The public library: models, inference sessions, the model store; re-exports the value
        // types and evaluation methods of the pieces above.
        .target(
            name: "Birder", dependencies: ["BirderCore", "BirderIO", "BirderVision", "BirderModels", "BirderEval", "BirderHub",
                                           .product(name: "Crypto", package: "swift-crypto")],
            swiftSettings: strictSettings),
        // `birder serve`: the HTTP inference service (routes, dynamic batcher, limits, metrics, web page).
        .target(
            name: "BirderServer",
            dependencies: [
                "Birder",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "MultipartKit", package: "multipart-kit"),
            ],
            swiftSettings: strictSettings),
        // Reports people look at: the embedding map (HTML, SVG, PNG/PDF through Cairo), the probe
        // report and the prediction contact sheet; each one self-contained file, written atomically.
        .target(
            name: "BirderReports", dependencies: ["Birder", "BirderEval", "BirderVision", "BirderIO", "CImageCodecs", "CCairo"],
            swiftSettings: strictSettings),
        .executableTarget(
            name: "BirderCLI",
            dependencies: ["Birder", "BirderServer", "BirderReports", .product(name: "ArgumentParser", package: "swift-argument-parser")],
            swiftSettings: strictSettings),
        // The README's library examples, verbatim (a test checks that they are): built by CI.
        .executableTarget(name: "ExampleClassifyPhoto", dependencies: ["Birder"], path: "Examples/ClassifyPhoto",
                          swiftSettings: strictSettings),
        .executableTarget(name: "ExampleEmbedFolder", dependencies: ["Birder"], path: "Examples/EmbedFolder",
                          swiftSettings: strictSettings),

        // Test helpers shared by the test targets (fixture paths, comparisons).
        .target(name: "BirderTestSupport", dependencies: ["BirderCore"], path: "Tests/BirderTestSupport",
                swiftSettings: strictSettings),
        .testTarget(name: "BirderCoreTests", dependencies: ["BirderCore", "BirderTestSupport"], swiftSettings: strictSettings),
        .testTarget(name: "BirderIOTests", dependencies: ["BirderIO", "BirderTestSupport"], swiftSettings: strictSettings),
        .testTarget(name: "BirderVisionTests", dependencies: ["BirderVision", "BirderTestSupport"], swiftSettings: strictSettings),
        .testTarget(name: "BirderModelsTests", dependencies: ["BirderModels", "BirderVision", "BirderTestSupport"], swiftSettings: strictSettings),
        .testTarget(name: "BirderEvalTests", dependencies: ["BirderEval", "BirderTestSupport"], swiftSettings: strictSettings),
        .testTarget(name: "BirderHubTests", dependencies: ["BirderHub", "BirderTestSupport"], swiftSettings: strictSettings),
        .testTarget(name: "BirderCLITests", dependencies: ["Birder", "BirderTestSupport"], swiftSettings: strictSettings),
        .testTarget(name: "BirderReportsTests", dependencies: ["BirderReports", "Birder", "BirderEval", "BirderVision", "BirderTestSupport"], swiftSettings: strictSettings),
        .testTarget(name: "BirderTests", dependencies: ["Birder", "BirderTestSupport"], swiftSettings: strictSettings),
        .testTarget(
            name: "BirderServerTests",
            dependencies: ["BirderServer", "Birder", "BirderTestSupport", .product(name: "HummingbirdTesting", package: "hummingbird")],
            swiftSettings: strictSettings),
    ]
)
