import BirderTestSupport
import Testing
@testable import BirderEval

@Suite struct MutualInformationTests {
    @Test func matchesScikitLearnOnEveryFixtureCase() throws {
        let fixture = try DigitsFixture.load()
        #expect(fixture.ami_cases.count >= 12)
        var worst = 0.0
        for testCase in fixture.ami_cases {
            let ami = try adjustedMutualInformation(labelsTrue: testCase.labels_true, labelsPred: testCase.labels_pred)
            let difference = abs(ami - testCase.ami)
            worst = max(worst, difference)
            #expect(difference <= 1e-9, "\(testCase.name): \(ami) vs scikit-learn \(testCase.ami)")
        }
        print("AMI vs scikit-learn: max |difference| \(worst) over \(fixture.ami_cases.count) cases")
    }

    @Test func degenerateCasesFollowScikitLearnRules() throws {
        #expect(try adjustedMutualInformation(labelsTrue: [], labelsPred: []) == 1)
        #expect(try adjustedMutualInformation(labelsTrue: [4, 4, 4], labelsPred: [1, 1, 1]) == 1)
        #expect(try adjustedMutualInformation(labelsTrue: [4, 4, 4], labelsPred: [1, 2, 3]) == 0)
        #expect(try adjustedMutualInformation(labelsTrue: [0, 1, 0, 1], labelsPred: [9, 9, 9, 9]) == 0)
        #expect(abs(try adjustedMutualInformation(labelsTrue: [0, 0, 1, 1], labelsPred: [1, 1, 0, 0]) - 1) < 1e-12)
    }

    @Test func rejectsLabelingsOfDifferentLength() {
        #expect(throws: EvaluationError.self) { try adjustedMutualInformation(labelsTrue: [0, 1], labelsPred: [0]) }
    }

    @Test func expectedMutualInformationIsSymmetricAndBelowEntropy() throws {
        var random = TestRandom(seed: 11)
        let a = (0..<400).map { _ in Int(random.next() % 7) }
        let b = (0..<400).map { _ in Int(random.next() % 5) }
        let ab = ContingencyTable(a, b), ba = ContingencyTable(b, a)
        let emiAB = ab.expectedMutualInformation(context: testContext), emiBA = ba.expectedMutualInformation(context: testContext)
        #expect(abs(emiAB - emiBA) < 1e-12)
        #expect(emiAB > 0 && emiAB < min(entropy(counts: ab.rowSums), entropy(counts: ab.columnSums)))
    }
}
