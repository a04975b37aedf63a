import Testing

// Tests for BirderVision live in this folder.
@Test func birderVisionTargetBuilds() { #expect(Bool(true)) }
