import Foundation
import Testing
import BirderCore
import BirderIO
import BirderTestSupport

/// Hostile and unlucky file-system cases against the built binary (issue 14, items 3, 5, 6, 9):
/// FIFOs where files are read, signals and `ulimit -f` during a write, special files and links as
/// outputs, file names a path or a line cannot hold. Every run has a watchdog: a hang fails.
@Suite(.serialized) struct HostileFileCLITests {
    let photos = Fixtures.path("cli/photos")
    let photo = Fixtures.path("cli/photos/a_chelsea.jpg")
    let model = Fixtures.path("cli/models/rdnet_t_tiny-test.pt")
    let fm = FileManager.default

    func errorLines(_ result: BirderProcess.Result) -> [Substring] {
        result.stderr.split(separator: "\n").filter { $0.hasPrefix("error: ") }
    }

    func makeFIFO(_ path: String) throws {
        guard mkfifo(path, 0o644) == 0 else { throw POSIXError(.init(rawValue: errno) ?? .EIO) }
    }

    func kind(_ path: String) -> mode_t {
        var info = stat()
        return lstat(path, &info) == 0 ? info.st_mode & S_IFMT : 0
    }

    /// Files left behind by an atomic write (`.NAME.tmp-…`).
    func temporaries(_ directory: URL) throws -> [String] {
        try fm.contentsOfDirectory(atPath: directory.path).filter { $0.contains(".tmp-") }
    }

    /// A run expected to refuse one file: status, exactly one error line, naming the file.
    func expectRefused(_ result: BirderProcess.Result, status: Int32 = 2, naming path: String, _ reason: String,
                       sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(!result.timedOut, "hung", sourceLocation: sourceLocation)
        #expect(result.status == status, "\(result.stderr)", sourceLocation: sourceLocation)
        let lines = errorLines(result)
        #expect(lines.count == 1, "\(result.stderr)", sourceLocation: sourceLocation)
        #expect(lines.first?.contains(path) == true, "\(result.stderr)", sourceLocation: sourceLocation)
        #expect(lines.first?.contains(reason) == true, "\(result.stderr)", sourceLocation: sourceLocation)
    }

    // MARK: - 3. FIFOs where a file is read must not block

    @Test func fifoAsEmbeddingsSamplesOrLabelsIsRefused() throws {
        let dir = try BirderProcess.temporaryDirectory()
        let fifo = dir.appendingPathComponent("data.npy").path
        try makeFIFO(fifo)
        expectRefused(try BirderProcess.run(["cluster", "--data", fifo], watchdog: 120), naming: fifo, "FIFO")

        // A valid matrix whose sample list is a FIFO.
        let npy = dir.appendingPathComponent("e.npy").path
        try NPY.write(Tensor(shape: [4, 2], values: [0, 1, 1, 0, 2, 2, 3, 1]), to: npy)
        try makeFIFO(npy + ".samples.txt")
        expectRefused(try BirderProcess.run(["cluster", "--data", npy], watchdog: 120), naming: npy + ".samples.txt", "FIFO")

        // A valid CSV with a FIFO as its labels.
        let csv = dir.appendingPathComponent("e.csv").path
        try "sample,0,1\na/1.png,0,1\na/2.png,1,0\nb/3.png,2,2\nb/4.png,3,1\n".write(toFile: csv, atomically: true, encoding: .utf8)
        let labels = dir.appendingPathComponent("labels.csv").path
        try makeFIFO(labels)
        expectRefused(try BirderProcess.run(["cluster", "--data", csv, "--labels", labels], watchdog: 120), naming: labels, "FIFO")
        #expect(kind(labels) == S_IFIFO)
    }

    @Test func fifoAsModelOrHeadIsRefused() throws {
        let dir = try BirderProcess.temporaryDirectory()
        let head = dir.appendingPathComponent("order.head.pt").path
        try makeFIFO(head)
        expectRefused(try BirderProcess.run(["predict", photo, "--model", model, "--head", head], watchdog: 120),
                      naming: head, "FIFO")
        let checkpoint = dir.appendingPathComponent("m.pt").path
        try makeFIFO(checkpoint)
        // `info` documents exit status 1 for a file it cannot read.
        expectRefused(try BirderProcess.run(["info", checkpoint], watchdog: 120), status: 1, naming: checkpoint, "FIFO")
    }

    @Test func fifoInTheModelsDirectoryIsRefusedByVerify() throws {
        let dir = try BirderProcess.temporaryDirectory()
        let fifo = dir.appendingPathComponent("rdnet_t_ibot-bioscan5m.pt").path
        try makeFIFO(fifo)
        expectRefused(try BirderProcess.run(["models", "--verify", "--models-dir", dir.path], watchdog: 120),
                      naming: fifo, "FIFO")
    }

    @Test func fifoAsDownloadDestinationOrPartialIsRefused() throws {
        // Nothing listens there: the refusal must come before any request.
        let environment = ["BIRDER_HUB_URL": "http://127.0.0.1:9"]
        let dir = try BirderProcess.temporaryDirectory()
        let fifo = dir.appendingPathComponent("rdnet_t_ibot-bioscan5m.pt").path
        try makeFIFO(fifo)
        for force in [false, true] {
            let result = try BirderProcess.run(["download", "rdnet_t_ibot-bioscan5m", "--models-dir", dir.path] + (force ? ["--force"] : []),
                                               environment: environment, watchdog: 120)
            expectRefused(result, naming: fifo, "FIFO")
            #expect(kind(fifo) == S_IFIFO, "the FIFO was replaced")
        }
        let other = try BirderProcess.temporaryDirectory()
        let partial = other.appendingPathComponent("rdnet_t_ibot-bioscan5m.pt.partial").path
        try makeFIFO(partial)
        expectRefused(try BirderProcess.run(["download", "rdnet_t_ibot-bioscan5m", "--models-dir", other.path],
                                            environment: environment, watchdog: 120), naming: partial, "FIFO")
        #expect(kind(partial) == S_IFIFO)
    }

    // MARK: - 5. Signals, `ulimit -f` and a directory as output leave nothing behind

    /// A folder of `count` hard links to one photo: a run long enough to be signalled mid-way.
    func manyPhotos(_ count: Int) throws -> URL {
        let dir = try BirderProcess.temporaryDirectory().appendingPathComponent("many")
        try fm.createDirectory(at: dir, withIntermediateDirectories: true)
        for i in 0..<count {
            let path = dir.appendingPathComponent(String(format: "p%05d.jpg", i)).path
            if link(photo, path) != 0 { try fm.copyItem(atPath: photo, toPath: path) }
        }
        return dir
    }

    /// Waits (bounded by the run's watchdog) until the run's partial output holds rows, not just
    /// the header (so the stream is being read), then signals.
    func signalWhenWriting(_ directory: URL, signals: [Int32]) -> (Process) throws -> Void {
        { process in
            func written() -> Int {
                guard let name = (try? fm.contentsOfDirectory(atPath: directory.path))?.first(where: { $0.hasSuffix(".partial") }) else { return 0 }
                return ((try? fm.attributesOfItem(atPath: directory.appendingPathComponent(name).path))?[.size] as? Int) ?? 0
            }
            while process.isRunning, written() < 400 { usleep(5_000) }
            for signal in signals { kill(process.processIdentifier, signal) }
        }
    }

    /// A signal stops the run (after the current batch, or at once for a second one) with
    /// 128 + its number; the output is not in place, but its partial file and journal are, to be
    /// continued with --resume (CollectionRunCLITests resumes them).
    @Test(arguments: [(SIGTERM, [SIGTERM]), (SIGHUP, [SIGHUP]), (SIGINT, [SIGINT]), (SIGTERM, [SIGTERM, SIGTERM]), (SIGINT, [SIGINT, SIGINT])])
    func signalDuringPredictLeavesOnlyItsJournal(expected: Int32, signals: [Int32]) throws {
        let images = try manyPhotos(3000)
        let out = try BirderProcess.temporaryDirectory()
        let output = out.appendingPathComponent("p.csv").path
        let result = try BirderProcess.run(["predict", images.path, "--model", model, "--output", output, "--batch-size", "4"],
                                           watchdog: 300, started: signalWhenWriting(out, signals: signals))
        #expect(!result.timedOut)
        // Stopped by the signal (after the current batch, or at once for a second one): 128 + signal.
        #expect(result.status == 128 + expected, "\(result.stderr)")
        let left = try fm.contentsOfDirectory(atPath: out.path).sorted()
        #expect(left == ["p.csv.journal", "p.csv.partial"], "left behind: \(left)")
        if signals.count == 1 {
            let lines = errorLines(result)
            #expect(lines.count == 1 && lines[0].contains("interrupted") && lines[0].contains("p.csv.journal records them: run the same command with --resume"),
                    "\(result.stderr)")
        }
    }

    @Test func fileSizeLimitIsAnErrorNamingTheOutput() throws {
        let images = try manyPhotos(200)
        let out = try BirderProcess.temporaryDirectory()
        for name in ["p.csv", "e.npy"] {
            let output = out.appendingPathComponent(name).path
            let command = name == "p.csv" ? ["predict", images.path, "--model", model, "--output", output]
                                          : ["embed", images.path, "--model", model, "--output", output]
            // 4 blocks: far less than 200 rows; `exec` keeps the limit for birder alone.
            let result = try BirderProcess.run(["-c", "ulimit -f 4 && exec \"$0\" \"$@\"", BirderProcess.executable.path] + command,
                                               executable: URL(fileURLWithPath: "/bin/sh"), watchdog: 300)
            expectRefused(result, naming: output, "File too large")
            let left = try fm.contentsOfDirectory(atPath: out.path)
            #expect(left.isEmpty, "left behind: \(left)")
        }
    }

    @Test func directoryAsOutputIsRefusedBeforeTheWork() throws {
        let out = try BirderProcess.temporaryDirectory()
        for (command, name) in [("predict", "p.csv"), ("embed", "e.npy"), ("features", "f.safetensors")] {
            let target = out.appendingPathComponent(name)
            try fm.createDirectory(at: target, withIntermediateDirectories: true)
            let arguments = command == "features" ? [command, photo, "--model", model, "--output", target.path]
                                                  : [command, photos, "--model", model, "--output", target.path]
            let result = try BirderProcess.run(arguments, watchdog: 120)
            expectRefused(result, naming: target.path, "is a directory")
            // Refused before any image was read: the truncated photo was never reported.
            #expect(!result.stderr.contains("d_truncated"))
            #expect(try fm.contentsOfDirectory(atPath: target.path).isEmpty)
        }
        #expect(try temporaries(out).isEmpty)
    }

    // MARK: - 6. Devices, FIFOs and links as outputs

    @Test func deviceAsOutputIsWrittenThrough() throws {
        let result = try BirderProcess.run(["predict", photos, "--model", model, "--output", "/dev/null"], watchdog: 120)
        #expect(result.status == 1, "\(result.stderr)")
        #expect(kind("/dev/null") == S_IFCHR)
        #expect(result.stdout.isEmpty)
        // /dev/stdout on a pipe: the rows arrive on the pipe.
        let piped = try BirderProcess.run(["predict", photo, "--model", model, "--output", "/dev/stdout"], watchdog: 120)
        #expect(piped.status == 0, "\(piped.stderr)")
        #expect(piped.stdout.hasPrefix("sample,head,prediction,"))
        #expect(piped.stdout.split(separator: "\n").count == 2)
    }

    @Test func fifoAsOutputIsWrittenThrough() throws {
        let dir = try BirderProcess.temporaryDirectory()
        let fifo = dir.appendingPathComponent("p.csv").path
        try makeFIFO(fifo)
        let received = UncheckedBox<Data>()
        let reader = DispatchGroup()
        DispatchQueue.global().async(group: reader) {
            received.value = FileHandle(forReadingAtPath: fifo)?.readDataToEndOfFile()
        }
        let result = try BirderProcess.run(["predict", photo, "--model", model, "--output", fifo], watchdog: 120)
        // Should birder never have opened the FIFO, a writer opened here releases the reader.
        let fd = open(fifo, O_WRONLY | O_NONBLOCK)
        if fd >= 0 { close(fd) }
        reader.wait()
        #expect(result.status == 0, "\(result.stderr)")
        #expect(kind(fifo) == S_IFIFO)
        let text = String(decoding: received.value ?? Data(), as: UTF8.self)
        #expect(text.hasPrefix("sample,head,prediction,") && text.split(separator: "\n").count == 2, "\(text)")
        #expect(try temporaries(dir).isEmpty)
    }

    @Test func symbolicLinkAsOutputIsFollowed() throws {
        let dir = try BirderProcess.temporaryDirectory(), targets = try BirderProcess.temporaryDirectory()
        let target = targets.appendingPathComponent("real.csv").path
        try "old\n".write(toFile: target, atomically: true, encoding: .utf8)
        let link = dir.appendingPathComponent("p.csv").path
        try fm.createSymbolicLink(atPath: link, withDestinationPath: target)
        let result = try BirderProcess.run(["predict", photo, "--model", model, "--output", link], watchdog: 120)
        #expect(result.status == 0, "\(result.stderr)")
        #expect(kind(link) == S_IFLNK)
        #expect(try String(contentsOfFile: target, encoding: .utf8).hasPrefix("sample,head,prediction,"))
        #expect(try temporaries(dir).isEmpty && temporaries(targets).isEmpty)

        // A .npy link to /dev/null: the matrix goes through to the device; its list is written beside the link.
        let npyLink = dir.appendingPathComponent("e.npy").path
        try fm.createSymbolicLink(atPath: npyLink, withDestinationPath: "/dev/null")
        let embedded = try BirderProcess.run(["embed", photo, "--model", model, "--output", npyLink], watchdog: 120)
        #expect(embedded.status == 0, "\(embedded.stderr)")
        #expect(kind("/dev/null") == S_IFCHR && kind(npyLink) == S_IFLNK)
        #expect(try String(contentsOfFile: npyLink + ".samples.txt", encoding: .utf8) == photo + "\n")
    }

    @Test func danglingLinkOrSocketAsOutputIsRefused() throws {
        let dir = try BirderProcess.temporaryDirectory()
        let link = dir.appendingPathComponent("p.csv").path
        try fm.createSymbolicLink(atPath: link, withDestinationPath: dir.appendingPathComponent("missing/x.csv").path)
        expectRefused(try BirderProcess.run(["predict", photos, "--model", model, "--output", link], watchdog: 120),
                      naming: link, "symbolic link to a missing file")
        #expect(kind(link) == S_IFLNK)
        #expect(try temporaries(dir).isEmpty)
    }

    // MARK: - 9. File names a path or a line cannot hold

    /// Creates `name` (raw bytes, as a Swift String cannot hold them) in `directory` as a copy of the photo.
    private func createRaw(_ name: [UInt8], in directory: [UInt8], directory isDirectory: Bool = false) throws {
        let raw = directory + [UInt8(ascii: "/")] + name + [0]
        let status = raw.withUnsafeBufferPointer { buffer in
            buffer.withMemoryRebound(to: CChar.self) { path -> Int32 in
                if isDirectory { return mkdir(path.baseAddress!, 0o755) }
                let fd = open(path.baseAddress!, O_WRONLY | O_CREAT | O_EXCL, 0o644)
                guard fd >= 0 else { return -1 }
                let bytes = [UInt8]((try? Data(contentsOf: URL(fileURLWithPath: photo))) ?? Data())
                _ = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
                return close(fd)
            }
        }
        try #require(status == 0)
    }

    /// Photos named in Latin-1 (not UTF-8), in a folder so named too, are found, opened and
    /// predicted like the others, named `\xNN` in the results; given on the command line with their
    /// raw bytes they open too; a manifest keeps the bytes, so `--files-from` reopens them.
    @Test func namesThatAreNotUTF8AreOpened() throws {
        let dir = try BirderProcess.temporaryDirectory().appendingPathComponent("imgs")
        try fm.createDirectory(at: dir, withIntermediateDirectories: true)
        try fm.copyItem(atPath: photo, toPath: dir.appendingPathComponent("good.jpg").path)
        let base = Array(dir.path.utf8)
        try createRaw(Array("K".utf8) + [0xE4] + Array("fer.jpg".utf8), in: base)
        try createRaw(Array("caf".utf8) + [0xE9], in: base, directory: true)
        try createRaw(Array("x.jpg".utf8), in: base + Array("/caf".utf8) + [0xE9])
        let result = try BirderProcess.run(["predict", dir.path, "--model", model], watchdog: 120)
        #expect(result.status == 0, "\(result.stderr)")
        let samples = result.stdout.split(separator: "\n").dropFirst().map { String($0.prefix { $0 != "," }) }
        #expect(samples == ["\(dir.path)/K\\xe4fer.jpg", "\(dir.path)/caf\\xe9/x.jpg", "\(dir.path)/good.jpg"], "\(result.stdout)")
        let rows = result.stdout.split(separator: "\n").dropFirst().map { $0.split(separator: ",").dropFirst().joined(separator: ",") }
        #expect(Set(rows).count == 1, "the same photo gives the same prediction whatever its name")

        // The raw bytes as an argument (Foundation's Process would pass UTF-8; a shell's printf does not).
        let shell = try BirderProcess.run(["-c", #"exec "$0" predict "$(printf '%s/K\344fer.jpg' "$1")" --model "$2""#,
                                           BirderProcess.executable.path, dir.path, model],
                                          executable: URL(fileURLWithPath: "/bin/sh"), watchdog: 120)
        #expect(shell.status == 0, "\(shell.stderr)")
        #expect(shell.stdout.contains("\(dir.path)/K\\xe4fer.jpg,"), "\(shell.stdout)")

        // A manifest holds the bytes themselves (as `find` lists them), and reads back as the same files.
        let manifest = dir.deletingLastPathComponent().appendingPathComponent("m.tsv").path
        let listed = try BirderProcess.run(["manifest", dir.path, "--output", manifest], watchdog: 120)
        #expect(listed.status == 0, "\(listed.stderr)")
        let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: manifest)))
        #expect(bytes.contains(0xE4) && bytes.contains(0xE9))
        let fromList = try BirderProcess.run(["predict", "--files-from", manifest, "--model", model], watchdog: 120)
        #expect(fromList.status == 0, "\(fromList.stderr)")
        #expect(fromList.stdout == result.stdout)
    }

    /// An output named with bytes that are not UTF-8 is refused before any work, named `\xNN`.
    @Test func anOutputNameThatIsNotUTF8IsRefusedBeforeTheWork() throws {
        let dir = try BirderProcess.temporaryDirectory()
        let result = try BirderProcess.run(["-c", #"exec "$0" predict "$1" --model "$2" --output "$(printf '%s/out\377.csv' "$3")""#,
                                            BirderProcess.executable.path, photo, model, dir.path],
                                           executable: URL(fileURLWithPath: "/bin/sh"), watchdog: 120)
        #expect(result.status == 2)
        #expect(errorLines(result) == ["error: \(dir.path)/out\\xff.csv: an output name that is not UTF-8 is not supported; choose a UTF-8 name"],
                "\(result.stderr)")
        #expect(try fm.contentsOfDirectory(atPath: dir.path).isEmpty)
    }

    /// A missing path whose name is not UTF-8 is named with `\xNN` in its one error line.
    @Test func aMissingRawNameIsShownByteForByte() throws {
        let dir = try BirderProcess.temporaryDirectory()
        let result = try BirderProcess.run(["-c", #"exec "$0" predict "$(printf '%s/nope\377.jpg' "$1")" --model "$2""#,
                                            BirderProcess.executable.path, dir.path, model],
                                           executable: URL(fileURLWithPath: "/bin/sh"), watchdog: 120)
        #expect(result.status == 2)
        #expect(errorLines(result) == ["error: \(dir.path)/nope\\xff.jpg: no such file or directory"], "\(result.stderr)")
    }

    @Test func lineBreakInANameIsRefusedForTheSampleList() throws {
        let dir = try BirderProcess.temporaryDirectory().appendingPathComponent("imgs")
        try fm.createDirectory(at: dir, withIntermediateDirectories: true)
        try fm.copyItem(atPath: photo, toPath: dir.appendingPathComponent("good.jpg").path)
        try fm.copyItem(atPath: photo, toPath: dir.appendingPathComponent("two\nlines.jpg").path)
        let out = try BirderProcess.temporaryDirectory()
        let output = out.appendingPathComponent("e.npy").path
        let result = try BirderProcess.run(["embed", dir.path, "--model", model, "--output", output], watchdog: 120)
        #expect(result.status == 1, "\(result.stderr)")
        let lines = errorLines(result)
        #expect(lines.count == 2, "\(result.stderr)")
        #expect(lines.first?.contains("\(dir.path)/two\\nlines.jpg: a file name with a line break cannot be listed in \(output).samples.txt") == true,
                "\(result.stderr)")
        #expect(try String(contentsOfFile: output + ".samples.txt", encoding: .utf8) == dir.path + "/good.jpg\n")
        #expect(try NPY.readFloat32(output).shape[0] == 1)
        // The list reads back.
        let clustered = try BirderProcess.run(["cluster", "--data", output], watchdog: 120)
        #expect(!clustered.stderr.contains("samples for an embedding matrix"), "\(clustered.stderr)")
        // CSV holds the name (quoted): nothing refused.
        let csv = out.appendingPathComponent("e.csv").path
        let asCSV = try BirderProcess.run(["embed", dir.path, "--model", model, "--output", csv], watchdog: 120)
        #expect(asCSV.status == 0, "\(asCSV.stderr)")
        #expect(try temporaries(out).isEmpty)
    }
}
