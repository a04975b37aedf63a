import Testing

// Tests for BirderIO live in this folder.
@Test func birderIOTargetBuilds() { #expect(Bool(true)) }
