/// Bytes of parameter memory a value holds: every `TensorStorage` and packed bfloat16 buffer
/// reachable through its stored properties (structs, classes, arrays, optionals, tuples, enums),
/// each buffer counted once however often it is shared. Found by reflection, so a layer added
/// later is counted without being listed anywhere; meant for reports and tests, not hot paths.
package func residentParameterBytes(of value: Any) -> Int {
    var seen = Set<ObjectIdentifier>()
    return residentParameterBytes(of: value, seen: &seen)
}

private func residentParameterBytes(of value: Any, seen: inout Set<ObjectIdentifier>) -> Int {
    if let storage = value as? TensorStorage {
        return seen.insert(ObjectIdentifier(storage)).inserted ? storage.count * MemoryLayout<Float>.stride : 0
    }
    if let storage = value as? BF16Storage {
        return seen.insert(ObjectIdentifier(storage)).inserted ? storage.count * MemoryLayout<UInt16>.stride : 0
    }
    let mirror = Mirror(reflecting: value)
    if mirror.displayStyle == .class {
        // A class reachable twice (a shared layer) is counted once.
        guard seen.insert(ObjectIdentifier(value as AnyObject)).inserted else { return 0 }
    }
    var total = 0
    var current: Mirror? = mirror
    while let level = current {
        for child in level.children { total += residentParameterBytes(of: child.value, seen: &seen) }
        current = level.superclassMirror
    }
    return total
}
