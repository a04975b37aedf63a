import BirderCore

/// A block of elements of one dtype as a file stores them: a torch storage, a safetensors data
/// range, an `.npy` payload, or bytes made in Swift. Kept alive by `owner` (a file read into memory,
/// owned bytes, or a `TensorStorage`).
public final class StorageBuffer: @unchecked Sendable {
    public let dtype: DType
    /// Number of elements.
    public let count: Int
    /// True when the elements are big-endian (a `.pt` whose `byteorder` record says "big").
    public let isBigEndian: Bool
    let base: UnsafeRawPointer?
    private let owner: AnyObject

    init(dtype: DType, count: Int, base: UnsafeRawPointer?, isBigEndian: Bool = false, owner: AnyObject) {
        self.dtype = dtype
        self.count = count
        self.base = base
        self.isBigEndian = isBigEndian
        self.owner = owner
    }

    /// A buffer holding a copy of `bytes` (little-endian elements).
    public convenience init(dtype: DType, bytes: [UInt8]) {
        precondition(bytes.count % dtype.byteSize == 0, "StorageBuffer: \(bytes.count) bytes is not a whole number of \(dtype)")
        let owned = OwnedBytes(bytes)
        self.init(dtype: dtype, count: bytes.count / dtype.byteSize, base: UnsafeRawPointer(owned.base), owner: owned)
    }

    /// The Float32 elements of a `Tensor`, shared (the tensor's storage is kept alive, not copied).
    public convenience init(float32 tensor: Tensor) {
        let storage = tensor.storage
        self.init(dtype: .float32, count: storage.count, base: UnsafeRawPointer(storage.baseAddress), owner: storage)
    }

    public var byteCount: Int { count * dtype.byteSize }

    public var rawBytes: UnsafeRawBufferPointer { UnsafeRawBufferPointer(start: base, count: byteCount) }

    /// Element `index` as a Double (exact for every supported dtype except int64 beyond 2^53).
    @inline(__always)
    func double(at index: Int) -> Double {
        let offset = index * dtype.byteSize
        let bytes = rawBytes
        switch dtype {
        case .float32:
            var bits = bytes.loadUnaligned(fromByteOffset: offset, as: UInt32.self)
            bits = isBigEndian ? UInt32(bigEndian: bits) : UInt32(littleEndian: bits)
            return Double(Float(bitPattern: bits))
        case .float64:
            var bits = bytes.loadUnaligned(fromByteOffset: offset, as: UInt64.self)
            bits = isBigEndian ? UInt64(bigEndian: bits) : UInt64(littleEndian: bits)
            return Double(bitPattern: bits)
        case .float16, .bfloat16, .int16:
            var bits = bytes.loadUnaligned(fromByteOffset: offset, as: UInt16.self)
            bits = isBigEndian ? UInt16(bigEndian: bits) : UInt16(littleEndian: bits)
            switch dtype {
            case .float16: return Double(floatFromHalfBits(bits))
            case .bfloat16: return Double(floatFromBFloat16Bits(bits))
            default: return Double(Int16(bitPattern: bits))
            }
        case .int64:
            var bits = bytes.loadUnaligned(fromByteOffset: offset, as: UInt64.self)
            bits = isBigEndian ? UInt64(bigEndian: bits) : UInt64(littleEndian: bits)
            return Double(Int64(bitPattern: bits))
        case .int32:
            var bits = bytes.loadUnaligned(fromByteOffset: offset, as: UInt32.self)
            bits = isBigEndian ? UInt32(bigEndian: bits) : UInt32(littleEndian: bits)
            return Double(Int32(bitPattern: bits))
        case .int8: return Double(Int8(bitPattern: bytes[offset]))
        case .uint8: return Double(bytes[offset])
        case .bool: return bytes[offset] != 0 ? 1 : 0
        }
    }

    /// Element `index` as a Float (float16/bfloat16 exactly, float64 rounded).
    @inline(__always)
    func float(at index: Int) -> Float {
        switch dtype {
        case .float32:
            var bits = rawBytes.loadUnaligned(fromByteOffset: index * 4, as: UInt32.self)
            bits = isBigEndian ? UInt32(bigEndian: bits) : UInt32(littleEndian: bits)
            return Float(bitPattern: bits)
        default:
            return Float(double(at: index))
        }
    }

    /// Element `index` as an Int64 (integer and bool dtypes exactly; floats truncated).
    func int64(at index: Int) -> Int64 {
        if dtype == .int64 {
            var bits = rawBytes.loadUnaligned(fromByteOffset: index * 8, as: UInt64.self)
            bits = isBigEndian ? UInt64(bigEndian: bits) : UInt64(littleEndian: bits)
            return Int64(bitPattern: bits)
        }
        let value = double(at: index)
        return value.isFinite && abs(value) < 9.2e18 ? Int64(value) : 0
    }
}

/// A tensor as a file describes it: dtype, shape and strides (in elements) over a storage,
/// starting at `storageOffset`. Views (transposes, slices) and storages shared by several tensors
/// are kept as they are; `float32Tensor()` converts to the contiguous Float32 `Tensor` models use.
public struct StoredTensor: Sendable {
    public let shape: [Int]
    public let strides: [Int]
    public let storageOffset: Int
    public let storage: StorageBuffer
    /// A zero-copy view of the file's bytes, made once when the layout allows it, so that every
    /// `Tensor` handed out shares one `TensorStorage` and copy-on-write sees it as shared.
    private let borrowed: TensorStorage?

    public var dtype: DType { storage.dtype }
    public var elementCount: Int { shape.reduce(1, *) }
    public var byteCount: Int { elementCount * dtype.byteSize }

    /// Checks that the view lies inside the storage; `describe` names the tensor in errors.
    public init(storage: StorageBuffer, shape: [Int], strides: [Int]? = nil, storageOffset: Int = 0) throws(TensorLayoutError) {
        let strides = strides ?? StoredTensor.contiguousStrides(shape)
        try StoredTensor.validate(shape: shape, strides: strides, offset: storageOffset, storageCount: storage.count)
        self.shape = shape
        self.strides = strides
        self.storageOffset = storageOffset
        self.storage = storage
        borrowed = StoredTensor.makeBorrowed(storage: storage, shape: shape, strides: strides, offset: storageOffset)
    }

    /// A Float32 `Tensor` wrapped without copying.
    public init(_ tensor: Tensor) {
        shape = tensor.shape
        strides = StoredTensor.contiguousStrides(tensor.shape)
        storageOffset = 0
        storage = StorageBuffer(float32: tensor)
        borrowed = tensor.storage
    }

    /// Row-major strides for `shape`.
    public static func contiguousStrides(_ shape: [Int]) -> [Int] {
        var strides = [Int](repeating: 1, count: shape.count)
        var step = 1
        for axis in shape.indices.reversed() {
            strides[axis] = step
            step = step &* max(shape[axis], 1)
        }
        return strides
    }

    /// True when the elements sit in row-major order without gaps (size-1 axes may have any stride).
    public var isContiguous: Bool {
        var expected = 1
        for axis in shape.indices.reversed() where shape[axis] != 1 {
            if shape[axis] == 0 { return true }
            if strides[axis] != expected { return false }
            expected *= shape[axis]
        }
        return true
    }

    /// The elements as a contiguous Float32 tensor: borrowed from the file when it already holds
    /// aligned little-endian float32 in row-major order, otherwise converted once.
    public func float32Tensor() -> Tensor {
        if let borrowed { return Tensor(shape: shape, storage: borrowed) }
        return Tensor(shape: shape) { out in
            // Contiguous little-endian data of the common float types: straight loops.
            if isContiguous, !storage.isBigEndian, let base = storage.base, !out.isEmpty {
                let source = UnsafeRawBufferPointer(start: base + storageOffset * dtype.byteSize, count: out.count * dtype.byteSize)
                switch dtype {
                case .float32:
                    for i in out.indices { out[i] = Float(bitPattern: UInt32(littleEndian: source.loadUnaligned(fromByteOffset: 4 * i, as: UInt32.self))) }
                    return
                case .float16:
                    for i in out.indices { out[i] = floatFromHalfBits(UInt16(littleEndian: source.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self))) }
                    return
                case .bfloat16:
                    for i in out.indices { out[i] = floatFromBFloat16Bits(UInt16(littleEndian: source.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self))) }
                    return
                case .float64:
                    for i in out.indices { out[i] = Float(Double(bitPattern: UInt64(littleEndian: source.loadUnaligned(fromByteOffset: 8 * i, as: UInt64.self)))) }
                    return
                default:
                    break
                }
            }
            forEachElement { i, source in out[i] = storage.float(at: source) }
        }
    }

    /// The elements in row-major order, as Doubles.
    public func doubles() -> [Double] {
        var result = [Double](repeating: 0, count: elementCount)
        forEachElement { i, source in result[i] = storage.double(at: source) }
        return result
    }

    /// The elements in row-major order, as Int64 (exact for integer and bool dtypes).
    public func int64s() -> [Int64] {
        var result = [Int64](repeating: 0, count: elementCount)
        forEachElement { i, source in result[i] = storage.int64(at: source) }
        return result
    }

    /// The elements in row-major order as little-endian bytes of `dtype` (for the writers).
    public func contiguousBytes() -> [UInt8] {
        let size = dtype.byteSize
        let source = storage.rawBytes
        let swap = storage.isBigEndian && size > 1
        if isContiguous, !swap {
            // Already in order: one copy, not a loop over elements (a 40 MB shard merged).
            let start = storageOffset * size
            return Array(UnsafeRawBufferPointer(rebasing: source[start..<(start + elementCount * size)]))
        }
        var result = [UInt8](repeating: 0, count: elementCount * size)
        result.withUnsafeMutableBytes { out in
            forEachElement { i, index in
                for b in 0..<size {
                    out[i * size + b] = source[index * size + (swap ? size - 1 - b : b)]
                }
            }
        }
        return result
    }

    /// Calls `body(destination, storageIndex)` for every element in row-major order.
    func forEachElement(_ body: (Int, Int) -> Void) {
        let count = elementCount
        guard count > 0 else { return }
        if isContiguous {
            for i in 0..<count { body(i, storageOffset + i) }
            return
        }
        let rank = shape.count
        var index = [Int](repeating: 0, count: rank)
        var source = storageOffset
        let inner = shape[rank - 1], innerStride = strides[rank - 1]
        var i = 0
        while i < count {
            var s = source
            for _ in 0..<inner {
                body(i, s)
                s += innerStride
                i += 1
            }
            // Odometer over the outer axes.
            var axis = rank - 2
            while axis >= 0 {
                index[axis] += 1
                source += strides[axis]
                if index[axis] < shape[axis] { break }
                source -= strides[axis] * shape[axis]
                index[axis] = 0
                axis -= 1
            }
        }
    }

    static func validate(shape: [Int], strides: [Int], offset: Int, storageCount: Int) throws(TensorLayoutError) {
        guard shape.count == strides.count else {
            throw TensorLayoutError("shape \(shape) and strides \(strides) differ in rank")
        }
        guard shape.count <= 64 else { throw TensorLayoutError("rank \(shape.count) is too large") }
        guard offset >= 0 else { throw TensorLayoutError("negative storage offset \(offset)") }
        var count = 1
        for dim in shape {
            guard dim >= 0 else { throw TensorLayoutError("negative dimension in shape \(shape)") }
            let (product, overflow) = count.multipliedReportingOverflow(by: dim)
            guard !overflow else { throw TensorLayoutError("element count of shape \(shape) overflows") }
            count = product
        }
        guard strides.allSatisfy({ $0 >= 0 }) else { throw TensorLayoutError("negative stride in \(strides)") }
        if count == 0 {
            guard offset <= storageCount else {
                throw TensorLayoutError("storage offset \(offset) is past the storage of \(storageCount) elements")
            }
            return
        }
        // Highest element the view touches must lie inside the storage.
        var last = offset
        for (dim, stride) in zip(shape, strides) {
            let (step, o1) = (dim - 1).multipliedReportingOverflow(by: stride)
            let (sum, o2) = last.addingReportingOverflow(step)
            guard !o1, !o2 else { throw TensorLayoutError("view of shape \(shape), strides \(strides) overflows") }
            last = sum
        }
        guard last < storageCount else {
            throw TensorLayoutError(
                "view (offset \(offset), shape \(shape), strides \(strides)) needs \(last + 1) elements but the storage has \(storageCount)")
        }
    }

    private static func makeBorrowed(storage: StorageBuffer, shape: [Int], strides: [Int], offset: Int) -> TensorStorage? {
        guard storage.dtype == .float32, !storage.isBigEndian, let base = storage.base else { return nil }
        var contiguous = true
        var expected = 1
        for axis in shape.indices.reversed() where shape[axis] != 1 {
            if shape[axis] == 0 { break }
            if strides[axis] != expected { contiguous = false; break }
            expected *= shape[axis]
        }
        let count = shape.reduce(1, *)
        guard contiguous, count > 0 else { return nil }
        let start = base + offset * 4
        guard Int(bitPattern: start) % MemoryLayout<Float>.alignment == 0 else { return nil }
        // The memory is writable: owned bytes (a file read into memory, or bytes made in Swift).
        let pointer = UnsafeMutableRawPointer(mutating: start).bindMemory(to: Float.self, capacity: count)
        return TensorStorage(borrowing: pointer, count: count, owner: storage)
    }
}

/// Why a shape/strides/offset does not fit a storage; wrapped with the file and tensor name.
public struct TensorLayoutError: Error, CustomStringConvertible, Sendable {
    public let description: String
    init(_ description: String) { self.description = description }
}
