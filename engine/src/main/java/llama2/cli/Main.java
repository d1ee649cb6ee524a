package llama2.cli;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Arrays;

import llama2.engine.Checkpoint;
import llama2.engine.CheckpointLoader;
import llama2.engine.Tokenizer;
import llama2.io.CommandLine;
import llama2.io.SafeFiles;

/**
 * The JVM command line: {@code java -jar llama2.jar <checkpoint> [run.c's flags]}, or one of
 * the subcommands {@code info}, {@code quantize} and {@code bench}.
 *
 * <p>Every error (a bad file, flag or value, a full disk, a file changed while it is read) ends
 * the program with a one-line message on stderr and exit status 1; nothing else is printed.
 */
public final class Main {
    static final String USAGE = """
            Usage: java -jar llama2.jar <checkpoint> [options]      generate text (like llama2.c's run)
                   java -jar llama2.jar info <checkpoint>            describe a checkpoint
                   java -jar llama2.jar quantize <in> <out> [--group N]
                                                                     convert to version 2 (Q8_0)
                   java -jar llama2.jar bench [--tokens N] [--shapes 260K,15M,42M,110M] [--threads 1,2]
                                                                     speed on random models, no file needed
            Example: java -jar llama2.jar stories15M.bin -z tokenizer.bin -t 0.8 -n 256 -i "One day, Lily met a Shoggoth"

            Options of generation, as in llama2.c's run.c:
              -t <float>   temperature in [0, inf): 0 is greedy, 1 samples the model as is (default 1.0)
              -p <float>   top-p (nucleus) sampling in [0, 1]; 0 or 1 turns it off (default 0.9)
              -s <int>     random seed (default 0: the clock, so give one to reproduce a story)
              -n <int>     steps: positions to run, the prompt included; 0 = the model's seq_len (default 256)
              -i <string>  input prompt (default empty: the model starts from BOS alone)
              -z <path>    tokenizer file (default tokenizer.bin)
              -m <string>  mode: generate or chat (default generate)
              -y <string>  system prompt for chat mode (default: asked on stdin)
              --ids        print the token ids (BOS, prompt, sampled) on one line instead of the text
              --threads N  split the model over N threads, same output for any N (default: all cores)

            Checkpoints: llama2.c version 0 (stories15M.bin and friends), 1 (fp32) and 2 (Q8_0, runq.c).
            Output: the text on stdout followed by a newline, "achieved tok/s: X" on stderr.
            """;

    private Main() {}

    public static void main(String[] args) {
        CommandLine.main(args, Main.class, true, Main::run);
    }

    /** Runs a command line, printing results to {@code out}; returns the exit status. */
    static int run(String[] args, PrintStream out) throws IOException {
        if (args.length == 0) {
            System.err.print(USAGE); // like run.c: usage on stderr, status 1
            return 1;
        }
        if (args[0].equals("--help") || args[0].equals("-h")) {
            out.print(USAGE);
            return 0;
        }
        String[] rest = Arrays.copyOfRange(args, 1, args.length);
        switch (args[0]) {
            case "info" -> InfoCommand.run(rest, out);
            case "quantize" -> QuantizeCommand.run(rest, out);
            case "bench" -> BenchCommand.run(rest, out);
            default -> GenerateCommand.run(args, out);
        }
        return 0;
    }

    /**
     * Reads the file a megabyte at a time into the engine's {@link CheckpointLoader}, which copies
     * each tensor into its own array: the process holds the weights once, not beside a mapped
     * copy of the file.
     */
    static Checkpoint readCheckpoint(String path) {
        Path file = SafeFiles.path(path, "model");
        SafeFiles.requireRegularFile(file);
        try (FileChannel channel = FileChannel.open(file, StandardOpenOption.READ)) {
            CheckpointLoader loader = new CheckpointLoader(channel.size(), path, false);
            ByteBuffer chunk = ByteBuffer.allocate(1 << 20);
            while (channel.read(chunk.clear()) > 0) {
                loader.accept(chunk.flip());
            }
            return loader.finish();
        } catch (IOException e) {
            throw SafeFiles.failure("reading", file, e);
        }
    }

    static Tokenizer readTokenizer(String path, int vocabSize) {
        return SafeFiles.parse(SafeFiles.path(path, "tokenizer"), file -> Tokenizer.read(file, vocabSize, path));
    }
}
