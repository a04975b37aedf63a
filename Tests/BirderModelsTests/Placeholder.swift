import Testing

// Tests for BirderModels live in this folder.
@Test func birderModelsTargetBuilds() { #expect(Bool(true)) }
