import ArgumentParser
import Birder
import Foundation

/// `--shard I/N|auto`, `--shard-count N`, `--resume`: how `predict` and `embed` take part in a
/// large, sharded or interrupted run (see `CollectionRun`).
struct RunOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp(
        "Process only part I of N of the images (a contiguous slice, I from 0) and write OUTPUT with .shard-I-of-N before its extension; `auto` takes I and N from a Slurm array, a Kubernetes Indexed Job or an AWS Batch array.",
        valueName: "I/N|auto"))
    var shard: String?

    @Option(name: .long, help: "Number of shards, with --shard auto: required under Kubernetes (JOB_COMPLETION_INDEX) and AWS Batch; under Slurm it makes the array index the shard index (so part of an array can be resubmitted).")
    var shardCount: Int?

    @Flag(name: .long, help: "Continue the interrupted run whose journal (OUTPUT.journal) is beside the output; start one if there is none.")
    var resume = false

    /// The shard this process runs, or nil for the whole list (also inside an array job).
    func resolvedShard(environment: [String: String] = ProcessInfo.processInfo.environment) throws -> Shard? {
        do {
            switch shard {
            case nil:
                if shardCount != nil { throw CLIError.usage("--shard-count goes with --shard auto") }
                return nil
            case "auto"?:
                return try Shard.fromEnvironment(environment, count: shardCount)
            case let text?:
                if shardCount != nil { throw CLIError.usage("--shard-count goes with --shard auto (--shard I/N names the count)") }
                return try Shard(parsing: text)
            }
        } catch let error as ShardError {
            throw CLIError.usage(error.description)
        }
    }
}

/// Runs a collection for a command: a progress bar, each failed image as `error: PATH: reason`,
/// and a clean stop at a batch boundary on the first SIGINT/SIGTERM/SIGHUP (the journal then
/// records the work done, for `--resume`).
enum CollectionRunReporter {
    /// Returns the number of images that failed (including, after a resume, those before it).
    /// - summary: the closing line for the output file, from the rows written.
    static func execute(label: String, run: CollectionRun, summary: (Int) -> String,
                        _ body: (_ progress: (CollectionRunProgress) -> Void, _ shouldStop: () -> Bool) throws -> CollectionRunOutcome) throws -> Int {
        let bar = ProgressBar(label: label, total: Int64(run.range.count))
        let outcome: CollectionRunOutcome
        do {
            outcome = try Interrupt.cooperating {
                try body({ progress in
                    if let failure = progress.failure { Terminal.error(failure) }
                    bar.update(Int64(progress.done))
                }, { Interrupt.requested != nil })
            }
        } catch let error as RunError {
            throw CLIError.usage(error.description)
        } catch let error as SessionError {
            throw CLIError.usage(error.description)
        } catch let error as BirderIOError {
            throw CLIError.io(error.description)
        }
        switch outcome {
        case let .completed(rows, failed, resumedAt):
            bar.finish(Int64(run.range.count))
            if resumedAt > 0 { Terminal.note("resumed after \(resumedAt) of \(run.range.count) images") }
            if let destination = run.destination {
                Terminal.note("\(destination): \(summary(rows))" + (run.shard.map { " (shard \($0))" } ?? ""))
            }
            return failed
        case let .stopped(done, total, journal):
            let signal = Interrupt.requested ?? SIGINT
            let again = run.resume ? "run the same command again" : "run the same command with --resume"
            let kept = journal.map { "; \($0) records them: \(again) to continue" }
                ?? "; nothing written to a file"
            throw CLIError.interrupted(signal: signal, message:
                "interrupted (\(Interrupt.name(of: signal))) after \(done) of \(total) images" + kept)
        case let .alreadyDone(record, rows, failed):
            // The images that failed were reported when the shard ran; running it again would not
            // change them, so this is not a failure of this run.
            Terminal.note("shard \(run.shard.map(String.init(describing:)) ?? "") already done (\(record): \(rows) rows"
                + (failed > 0 ? ", \(failed) images failed" : "") + "); nothing to do")
            return 0
        }
    }
}
