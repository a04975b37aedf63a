/// Float32 memory behind a `Tensor`: either owned (64-byte aligned, so SIMD loads never split a
/// cache line) or borrowed from something that outlives it (a memory-mapped checkpoint), kept alive
/// through `owner`.
package final class TensorStorage: @unchecked Sendable {
    package let baseAddress: UnsafeMutablePointer<Float>
    package let count: Int
    private let owner: AnyObject?
    private let ownsMemory: Bool

    package static let alignment = 64

    /// Allocates `count` floats, zero-filled.
    package init(count: Int) {
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
    package init(borrowing pointer: UnsafeMutablePointer<Float>, count: Int, owner: AnyObject) {
        self.baseAddress = pointer
        self.count = count
        self.owner = owner
        self.ownsMemory = false
    }

    deinit {
        if ownsMemory { UnsafeMutableRawPointer(baseAddress).deallocate() }
    }

    package var buffer: UnsafeMutableBufferPointer<Float> {
        UnsafeMutableBufferPointer(start: baseAddress, count: count)
    }
}
