/// Float32 memory behind a `Tensor`: either owned (64-byte aligned, so SIMD loads never split a
/// cache line) or borrowed from something that outlives it (a memory-mapped checkpoint), kept alive
/// through `owner`.
public final class TensorStorage: @unchecked Sendable {
    public let baseAddress: UnsafeMutablePointer<Float>
    public let count: Int
    private let owner: AnyObject?
    private let ownsMemory: Bool

    public static let alignment = 64

    /// Allocates `count` floats, zero-filled.
    public init(count: Int) {
        precondition(count >= 0, "TensorStorage: negative element count \(count)")
        let bytes = max(count, 1) * MemoryLayout<Float>.stride
        let raw = UnsafeMutableRawPointer.allocate(byteCount: bytes, alignment: Self.alignment)
        raw.initializeMemory(as: UInt8.self, repeating: 0, count: bytes)
        self.baseAddress = raw.bindMemory(to: Float.self, capacity: max(count, 1))
        self.count = count
        self.owner = nil
        self.ownsMemory = true
    }

    /// Wraps memory owned by `owner`; the storage never frees it and keeps `owner` alive.
    public init(borrowing pointer: UnsafeMutablePointer<Float>, count: Int, owner: AnyObject) {
        self.baseAddress = pointer
        self.count = count
        self.owner = owner
        self.ownsMemory = false
    }

    deinit {
        if ownsMemory { UnsafeMutableRawPointer(baseAddress).deallocate() }
    }

    public var buffer: UnsafeMutableBufferPointer<Float> {
        UnsafeMutableBufferPointer(start: baseAddress, count: count)
    }
}
