import Foundation

/// One of `count` contiguous parts of a run's work list: shard `index` (from 0) takes the rows
/// `total·index/count ..< total·(index+1)/count`, so the shards' outputs concatenated in index
/// order are the whole run's output.
public struct Shard: Sendable, Equatable, Codable, CustomStringConvertible {
    public let index: Int
    public let count: Int

    /// The most shards a run is split into (far above any scheduler's array limit).
    public static let maximumCount = 1_000_000

    public init(index: Int, count: Int) throws(ShardError) {
        guard (1...Self.maximumCount).contains(count) else { throw .invalid("shard count \(count) is not in 1…\(Self.maximumCount)") }
        guard (0..<count).contains(index) else { throw .invalid("shard index \(index) is not in 0…\(count - 1)") }
        self.index = index
        self.count = count
    }

    /// `I/N`, as `--shard 3/8` takes it.
    public init(parsing text: String) throws(ShardError) {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2, let index = Int(parts[0]), let count = Int(parts[1]) else {
            throw .invalid("'\(text)' is not I/N (e.g. 3/8: the fourth of eight shards)")
        }
        try self.init(index: index, count: count)
    }

    public var description: String { "\(index)/\(count)" }

    /// The rows of a list of `total` items this shard takes.
    public func range(of total: Int) -> Range<Int> {
        // total·index fits: total is a list length and index < 10⁶.
        (total * index / count)..<(total * (index + 1) / count)
    }

    /// The shard a scheduler's array task is, from its environment:
    /// - Slurm job arrays: with `count` (`--shard-count`), the array index `SLURM_ARRAY_TASK_ID` is
    ///   the shard index, so that part of an array can be resubmitted (`--array=3,5`) and still run
    ///   shards 3 and 5 of `count`; without it, the task's place in its array
    ///   (`SLURM_ARRAY_TASK_ID` − `SLURM_ARRAY_TASK_MIN`, over `SLURM_ARRAY_TASK_STEP`) of
    ///   `SLURM_ARRAY_TASK_COUNT`;
    /// - Kubernetes Indexed Jobs: `JOB_COMPLETION_INDEX`, with `count` (the Job's completions);
    /// - AWS Batch array jobs: `AWS_BATCH_JOB_ARRAY_INDEX`, with `count` (the array size).
    public static func fromEnvironment(_ environment: [String: String], count: Int? = nil) throws(ShardError) -> Shard {
        func number(_ name: String) throws(ShardError) -> Int? {
            guard let text = environment[name] else { return nil }
            guard let value = Int(text.trimmingCharacters(in: .whitespaces)) else { throw .invalid("\(name)=\(text) is not a number") }
            return value
        }
        if let task = try number("SLURM_ARRAY_TASK_ID") {
            if let count { return try Shard(index: task, count: count) }
            let minimum = try number("SLURM_ARRAY_TASK_MIN") ?? 0
            let step = try number("SLURM_ARRAY_TASK_STEP") ?? 1
            guard let tasks = try number("SLURM_ARRAY_TASK_COUNT") else {
                throw .invalid("SLURM_ARRAY_TASK_ID is set but SLURM_ARRAY_TASK_COUNT is not (Slurm 17.11 or later sets it); give --shard-count")
            }
            guard step >= 1, task >= minimum, (task - minimum) % step == 0 else {
                throw .invalid("SLURM_ARRAY_TASK_ID=\(task) is not on the array's grid (min \(minimum), step \(step)); give --shard-count")
            }
            return try Shard(index: (task - minimum) / step, count: tasks)
        }
        for (variable, scheduler) in [("JOB_COMPLETION_INDEX", "Kubernetes Indexed Job"), ("AWS_BATCH_JOB_ARRAY_INDEX", "AWS Batch array job")] {
            guard let index = try number(variable) else { continue }
            guard let count else { throw .invalid("\(variable) is set (\(scheduler)): give the number of shards with --shard-count") }
            return try Shard(index: index, count: count)
        }
        throw .noScheduler
    }

    /// Where this shard writes a run's `output`: `{shard}` in the path is replaced by
    /// `0003-of-0008`; without it, `.shard-0003-of-0008` goes before the extension
    /// (`embeddings.npy` → `embeddings.shard-0003-of-0008.npy`).
    public func outputPath(_ output: String) -> String {
        let digits = max(4, String(count - 1).count)
        func padded(_ value: Int) -> String {
            let text = String(value)
            return String(repeating: "0", count: max(0, digits - text.count)) + text
        }
        let tag = "\(padded(index))-of-\(padded(count))"
        if output.contains("{shard}") { return output.replacingOccurrences(of: "{shard}", with: tag) }
        let name = (output as NSString).lastPathComponent
        let directory = String(output.dropLast(name.count))
        guard let dot = name.lastIndex(of: "."), dot != name.startIndex else { return "\(output).shard-\(tag)" }
        return directory + name[..<dot] + ".shard-\(tag)" + name[dot...]
    }
}

public enum ShardError: Error, CustomStringConvertible, Sendable, Equatable {
    case invalid(String)
    case noScheduler

    public var description: String {
        switch self {
        case let .invalid(reason): return "--shard: \(reason)"
        case .noScheduler:
            return "--shard auto: no array task found in the environment (SLURM_ARRAY_TASK_ID, JOB_COMPLETION_INDEX or AWS_BATCH_JOB_ARRAY_INDEX); give --shard I/N"
        }
    }
}
