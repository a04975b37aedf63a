import Testing
@testable import BirderCore

/// The values printed by `python3 tools/reference/seeded_params.py`: Swift and Python must agree
/// bit for bit, or every parity fixture made from seeded weights is meaningless.
@Suite struct SeededParametersTests {
    let generator = SeededParameters(seed: 42)

    @Test func gammaMatchesPython() throws {
        let t = try generator.parameter(name: "body.stage1.0.layers.0.gamma", shape: [4])
        #expect(t.scalars == [0.8574695587158203, 0.8704831600189209, 0.7897090911865234, 0.8595942258834839])
    }

    @Test func convWeightMatchesPython() throws {
        let t = try generator.parameter(name: "conv_proj.weight", shape: [2, 3, 2, 2])
        #expect(t.scalars.count == 24)
        #expect(t.scalars.prefix(4) == [-0.37850797176361084, -0.2500584125518799, 0.14421415328979492, -0.2859746217727661])
        #expect(t.scalars.last == 0.0870634913444519)
        // Half width is sqrt(3 / fan_in) with fan_in = 3·2·2.
        #expect(t.scalars.allSatisfy { abs($0) <= Float((3.0 / 12.0).squareRoot()) })
    }

    @Test func biasMatchesPython() throws {
        let t = try generator.parameter(name: "norm.bias", shape: [3])
        #expect(t.scalars == [0.06612910330295563, -0.0265764482319355, -0.03115750476717949])
    }

    @Test func unknownKindIsRefused() {
        #expect(throws: SeededParameters.ScaleError.self) { try generator.parameter(name: "running_mean", shape: [3]) }
    }
}
