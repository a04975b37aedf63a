/// Carries a value across a concurrency boundary where the caller guarantees data-race freedom
/// (disjoint writes per worker).
package struct UncheckedSendable<Value>: @unchecked Sendable {
    package let value: Value
    @inlinable package init(_ value: Value) { self.value = value }
}
