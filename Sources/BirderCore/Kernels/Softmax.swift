#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Softmax of each row of a rows×columns matrix, in place, with the inputs first multiplied by
/// `scale` (attention fuses its 1/√d here). Max-subtracted for stability, as PyTorch does.
public func softmaxRows(_ x: UnsafeMutablePointer<Float>, rows: Int, columns: Int, stride: Int? = nil, scale: Float = 1) {
    let ld = stride ?? columns
    let shared = UncheckedSendable(x)
    parallelFor(rows, grain: max(1, 8_192 / max(columns, 1))) { range in
        let x = shared.value
        for row in range {
            let y = x + row * ld
            var maximum = -Float.infinity
            for c in 0..<columns { maximum = max(maximum, y[c]) }
            var total: Float = 0
            for c in 0..<columns {
                let e = expf((y[c] - maximum) * scale)
                y[c] = e
                total += e
            }
            let inverse = 1 / total
            for c in 0..<columns { y[c] *= inverse }
        }
    }
}
