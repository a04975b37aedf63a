import Testing

// Tests for BirderCLI live in this folder.
@Test func birderCLITargetBuilds() { #expect(Bool(true)) }
