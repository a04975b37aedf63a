extension ComputeContext {
    /// Adds `bias` (length `columns`) to every row of a rows×columns matrix with row stride `stride`.
    package func addBiasRows(_ x: UnsafeMutablePointer<Float>, rows: Int, columns: Int, stride: Int? = nil,
                             bias: UnsafePointer<Float>) {
        let ld = stride ?? columns
        let shared = UncheckedSendable((x, bias))
        parallelFor(rows, grain: max(1, 65_536 / max(columns, 1))) { range in
            let (x, bias) = shared.value
            for row in range {
                let y = x + row * ld
                var c = 0
                while c + 8 <= columns { store8(load8(y + c) + load8(bias + c), y + c); c += 8 }
                while c < columns { y[c] += bias[c]; c += 1 }
            }
        }
    }
}
