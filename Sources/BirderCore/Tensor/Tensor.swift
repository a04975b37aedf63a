/// A dense, contiguous, row-major Float32 tensor.
///
/// Layout is whatever the caller says it is: the models keep images as NHWC (channels last, so
/// a 1×1 convolution is one GEMM over all pixels) and say so in the shape comments. `Tensor` is a
/// value: writing through `withUnsafeMutableBufferPointer` copies first when the storage is shared.
public struct Tensor: Sendable {
    public private(set) var shape: [Int]
    package private(set) var storage: TensorStorage

    /// A zero-filled tensor.
    public init(zeros shape: [Int]) {
        let count = Tensor.elementCount(shape)
        self.shape = shape
        self.storage = TensorStorage(count: count)
    }

    public init(shape: [Int], repeating value: Float) {
        self.init(zeros: shape)
        if value != 0 { storage.buffer.update(repeating: value) }
    }

    public init(shape: [Int], values: [Float]) {
        let count = Tensor.elementCount(shape)
        precondition(values.count == count, "Tensor: \(values.count) values for shape \(shape)")
        self.init(zeros: shape)
        _ = storage.buffer.update(fromContentsOf: values)
    }

    /// Wraps existing storage (e.g. a view onto a memory-mapped file) without copying.
    package init(shape: [Int], storage: TensorStorage) {
        precondition(Tensor.elementCount(shape) == storage.count, "Tensor: shape \(shape) does not match storage of \(storage.count)")
        self.shape = shape
        self.storage = storage
    }

    /// A tensor filled by `body`, which receives the uninitialised-to-zero buffer.
    public init(shape: [Int], fill body: (UnsafeMutableBufferPointer<Float>) throws -> Void) rethrows {
        self.init(zeros: shape)
        try body(storage.buffer)
    }

    public var count: Int { storage.count }
    public var rank: Int { shape.count }

    public static func elementCount(_ shape: [Int]) -> Int {
        var count = 1
        for dim in shape {
            precondition(dim >= 0, "Tensor: negative dimension in \(shape)")
            let (product, overflow) = count.multipliedReportingOverflow(by: dim)
            precondition(!overflow, "Tensor: element count of \(shape) overflows")
            count = product
        }
        return count
    }

    public func withUnsafeBufferPointer<R>(_ body: (UnsafeBufferPointer<Float>) throws -> R) rethrows -> R {
        try body(UnsafeBufferPointer(storage.buffer))
    }

    public mutating func withUnsafeMutableBufferPointer<R>(_ body: (UnsafeMutableBufferPointer<Float>) throws -> R) rethrows -> R {
        if !isKnownUniquelyReferenced(&storage) {
            let copy = TensorStorage(count: storage.count)
            copy.baseAddress.update(from: storage.baseAddress, count: storage.count)
            storage = copy
        }
        return try body(storage.buffer)
    }

    /// The same elements under another shape with the same element count.
    public func reshaped(_ newShape: [Int]) -> Tensor {
        precondition(Tensor.elementCount(newShape) == count, "Tensor: cannot reshape \(shape) to \(newShape)")
        var result = self
        result.shape = newShape
        return result
    }

    public var scalars: [Float] { Array(storage.buffer) }

    public subscript(flat index: Int) -> Float { storage.buffer[index] }

    /// Elements `[start, start + length)` along the first axis, copied.
    public func rows(_ range: Range<Int>) -> Tensor {
        precondition(rank >= 1 && range.lowerBound >= 0 && range.upperBound <= shape[0], "Tensor: rows \(range) out of \(shape)")
        let rowSize = shape.dropFirst().reduce(1, *)
        var newShape = shape
        newShape[0] = range.count
        return Tensor(shape: newShape) { out in
            out.baseAddress!.update(from: storage.baseAddress + range.lowerBound * rowSize, count: range.count * rowSize)
        }
    }
}

extension Tensor: CustomStringConvertible {
    public var description: String { "Tensor(\(shape.map(String.init).joined(separator: "×")))" }
}
