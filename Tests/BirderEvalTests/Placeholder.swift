import Testing

// Tests for BirderEval live in this folder.
@Test func birderEvalTargetBuilds() { #expect(Bool(true)) }
