/// SHA-256 (FIPS 180-4) of a byte buffer, as lowercase hex: the digest the resize fixtures store.
/// Written here because this test target links no crypto library; checked against the standard's
/// test vectors in ResizeSweepTests.
func sha256Hex(_ bytes: [UInt8]) -> String {
    let state = UnsafeMutablePointer<UInt32>.allocate(capacity: 8 + 64)  // 8 words of state, 64 of schedule
    defer { state.deallocate() }
    let initial: [UInt32] = [0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19]
    for i in 0..<8 { state[i] = initial[i] }
    // The message, padded: 0x80, zeros, then the bit length (big-endian) to a multiple of 64 bytes.
    var tail = Array(bytes[(bytes.count / 64 * 64)...])
    tail.append(0x80)
    while tail.count % 64 != 56 { tail.append(0) }
    let bitLength = UInt64(bytes.count) &* 8
    for shift in stride(from: 56, through: 0, by: -8) { tail.append(UInt8(truncatingIfNeeded: bitLength >> UInt64(shift))) }
    SHA256Blocks.k.withUnsafeBufferPointer { k in
        bytes.withUnsafeBufferPointer { buffer in
            if buffer.count >= 64 { SHA256Blocks.compress(buffer.baseAddress!, blocks: buffer.count / 64, state: state, k: k.baseAddress!) }
        }
        tail.withUnsafeBufferPointer { buffer in
            SHA256Blocks.compress(buffer.baseAddress!, blocks: buffer.count / 64, state: state, k: k.baseAddress!)
        }
    }
    return (0..<8).map { i in
        let hex = String(state[i], radix: 16)
        return String(repeating: "0", count: 8 - hex.count) + hex
    }.joined()
}

private enum SHA256Blocks {
    static let k: [UInt32] = [
        0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
        0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
        0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
        0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
        0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
        0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
        0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
        0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
    ]

    /// Tests run unoptimised, where array accesses and captured variables would make this several
    /// times slower (the sweep hashes ~100 MB): local scalars and raw pointers only.
    static func compress(_ data: UnsafePointer<UInt8>, blocks: Int, state: UnsafeMutablePointer<UInt32>, k: UnsafePointer<UInt32>) {
        let w = state + 8
        var h0 = state[0], h1 = state[1], h2 = state[2], h3 = state[3], h4 = state[4], h5 = state[5], h6 = state[6], h7 = state[7]
        var block = data
        for _ in 0..<blocks {
            for i in 0..<16 {
                w[i] = UInt32(block[4 * i]) << 24 | UInt32(block[4 * i + 1]) << 16 | UInt32(block[4 * i + 2]) << 8 | UInt32(block[4 * i + 3])
            }
            for i in 16..<64 {
                let x = w[i - 15], y = w[i - 2]
                let s0 = (x >> 7 | x << 25) ^ (x >> 18 | x << 14) ^ (x >> 3)
                let s1 = (y >> 17 | y << 15) ^ (y >> 19 | y << 13) ^ (y >> 10)
                w[i] = w[i - 16] &+ s0 &+ w[i - 7] &+ s1
            }
            var a = h0, b = h1, c = h2, d = h3, e = h4, f = h5, g = h6, h = h7
            for i in 0..<64 {
                let t1 = h &+ ((e >> 6 | e << 26) ^ (e >> 11 | e << 21) ^ (e >> 25 | e << 7)) &+ ((e & f) ^ (~e & g)) &+ k[i] &+ w[i]
                let t2 = ((a >> 2 | a << 30) ^ (a >> 13 | a << 19) ^ (a >> 22 | a << 10)) &+ ((a & b) ^ (a & c) ^ (b & c))
                h = g; g = f; f = e; e = d &+ t1; d = c; c = b; b = a; a = t1 &+ t2
            }
            h0 &+= a; h1 &+= b; h2 &+= c; h3 &+= d; h4 &+= e; h5 &+= f; h6 &+= g; h7 &+= h
            block += 64
        }
        state[0] = h0; state[1] = h1; state[2] = h2; state[3] = h3; state[4] = h4; state[5] = h5; state[6] = h6; state[7] = h7
    }
}
