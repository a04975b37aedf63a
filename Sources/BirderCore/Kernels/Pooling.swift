/// Mean over the pixels of each image of an NHWC batch: N×(H·W)×C → N×C (global average pool).
package func meanPoolNHWC(_ input: UnsafePointer<Float>, batch: Int, pixels: Int, channels: Int,
                         output: UnsafeMutablePointer<Float>) {
    for n in 0..<batch {
        let out = output + n * channels
        out.update(repeating: 0, count: channels)
        for p in 0..<pixels {
            let x = input + (n * pixels + p) * channels
            var c = 0
            while c + 8 <= channels { store8(load8(out + c) + load8(x + c), out + c); c += 8 }
            while c < channels { out[c] += x[c]; c += 1 }
        }
        let inverse = 1 / Float(pixels)
        for c in 0..<channels { out[c] *= inverse }
    }
}

/// NHWC → NCHW (Birder returns feature maps channels-first).
package func nhwcToNCHW(_ input: Tensor) -> Tensor {
    precondition(input.rank == 4, "nhwcToNCHW: expected rank 4, got \(input.shape)")
    let n = input.shape[0], h = input.shape[1], w = input.shape[2], c = input.shape[3]
    return Tensor(shape: [n, c, h, w]) { out in
        input.withUnsafeBufferPointer { x in
            for b in 0..<n { for p in 0..<(h * w) { for ch in 0..<c {
                out[(b * c + ch) * h * w + p] = x[(b * h * w + p) * c + ch]
            } } }
        }
    }
}
