import ArgumentParser

/// Errors the command line reports as one line on stderr. Exit status: 2 for usage problems
/// (unknown model or head, wrong head width, unwritable output), 1 when some inputs failed,
/// 128 + the signal's number when SIGINT, SIGTERM or SIGHUP stopped the run.
enum CLIError: Error, CustomStringConvertible {
    case usage(String)
    case io(String)
    case someInputsFailed(Int)
    /// A signal stopped the run between batches; the exit status is 128 + its number.
    case interrupted(signal: Int32, message: String)

    var description: String {
        switch self {
        case let .usage(message), let .io(message): return message
        case let .someInputsFailed(count): return "\(count) input(s) could not be processed"
        case let .interrupted(_, message): return message
        }
    }
}

/// Runs a command body, turning any error into `error: …` on stderr and the documented exit code.
func reportingErrors(_ body: () throws -> Void) throws {
    do {
        try body()
    } catch let error as CLIError {
        Terminal.error(error.description)
        if case .someInputsFailed = error { throw ExitCode(1) }
        if case let .interrupted(signal, _) = error { throw ExitCode(128 + signal) }
        throw ExitCode(2)
    } catch let error as ExitCode {
        throw error
    } catch {
        Terminal.error(String(describing: error))
        throw ExitCode(2)
    }
}
