import BirderCore

/// Weights are fetched while a network is built, by their checkpoint names under scoped prefixes,
/// each with a shape check (the habit of candle's VarBuilder). Loading is strict: a missing or
/// mis-shaped tensor is an error, and `finish()` refuses tensors that nothing asked for, so a
/// renamed layer can never leave a silently random weight behind.
package final class ParameterBinder {
    private enum Origin {
        case source(any ParameterSource)
        case seeded(SeededParameters)
    }

    /// Names handed out so far, shared by every scope of one binder.
    private final class Ledger { var used: Set<String> = [] }

    private let origin: Origin
    private let prefix: String
    private let ledger: Ledger

    package convenience init(source: any ParameterSource) {
        self.init(origin: .source(source), prefix: "", ledger: Ledger())
    }

    /// Every requested tensor is generated (benchmarks, parity tests); nothing can be missing.
    package convenience init(seeded: SeededParameters) {
        self.init(origin: .seeded(seeded), prefix: "", ledger: Ledger())
    }

    private init(origin: Origin, prefix: String, ledger: Ledger) {
        self.origin = origin
        self.prefix = prefix
        self.ledger = ledger
    }

    /// A binder whose names are prefixed by `component.` (e.g. `body` → `body.stage1` → …).
    package func scope(_ component: String) -> ParameterBinder {
        ParameterBinder(origin: origin, prefix: fullName(component), ledger: ledger)
    }

    package func scope(_ index: Int) -> ParameterBinder { scope(String(index)) }

    private func fullName(_ name: String) -> String { prefix.isEmpty ? name : prefix + "." + name }

    /// Whether the source holds `name` (a seeded binder holds everything).
    package func contains(_ name: String) -> Bool {
        switch origin {
        case .seeded: return true
        case let .source(source): return source.shape(of: fullName(name)) != nil
        }
    }

    /// The stored shape of `name`, when the network must read a width from the checkpoint
    /// (e.g. the number of classes of a classifier).
    package func shape(of name: String) -> [Int]? {
        switch origin {
        case .seeded: return nil
        case let .source(source): return source.shape(of: fullName(name))
        }
    }

    /// The tensor `name` (relative to this scope), which must have exactly `shape`.
    package func tensor(_ name: String, shape: [Int]) throws -> Tensor {
        let full = fullName(name)
        ledger.used.insert(full)
        switch origin {
        case let .seeded(generator):
            return try generator.parameter(name: full, shape: shape)
        case let .source(source):
            guard let stored = source.shape(of: full) else { throw WeightBindingError.missing(name: full) }
            guard stored == shape else {
                throw WeightBindingError.shapeMismatch(name: full, expected: shape, found: stored)
            }
            let tensor = try source.float32Tensor(named: full)
            guard tensor.shape == shape else {
                throw WeightBindingError.shapeMismatch(name: full, expected: shape, found: tensor.shape)
            }
            return tensor
        }
    }

    /// Refuses a source that holds tensors the network never asked for.
    package func finish() throws {
        guard case let .source(source) = origin else { return }
        let unused = source.parameterNames.filter { !ledger.used.contains($0) }.sorted()
        if !unused.isEmpty { throw WeightBindingError.unused(names: unused) }
    }
}

package enum WeightBindingError: Error, CustomStringConvertible, Equatable {
    case missing(name: String)
    case shapeMismatch(name: String, expected: [Int], found: [Int])
    case unused(names: [String])
    case invalidConfig(String)

    package var description: String {
        switch self {
        case let .missing(name):
            return "weights: tensor '\(name)' is missing"
        case let .shapeMismatch(name, expected, found):
            return "weights: tensor '\(name)' has shape \(found), the network needs \(expected)"
        case let .unused(names):
            let shown = names.prefix(5).joined(separator: ", ")
            return "weights: \(names.count) tensor(s) not used by the network: \(shown)\(names.count > 5 ? ", …" : "")"
        case let .invalidConfig(reason):
            return "weights: invalid network config: \(reason)"
        }
    }
}
