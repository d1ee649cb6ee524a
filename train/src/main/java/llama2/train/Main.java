package llama2.train;

import java.io.BufferedOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.io.PrintStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.Set;

import llama2.engine.BadInputException;
import llama2.engine.Checkpoint;
import llama2.engine.Config;
import llama2.engine.Generation;
import llama2.engine.Sampler;
import llama2.engine.Step;
import llama2.engine.Tokenizer;
import llama2.engine.Transformer;

/**
 * {@code java --add-modules jdk.incubator.vector -jar llama2-train.jar <command> [options]}:
 * from a text file to a model the engine runs. Bad input of any kind ends with one line naming
 * the problem and exit status 1.
 */
public final class Main {
    private Main() {}

    static final String HELP = """
            usage: java --add-modules jdk.incubator.vector -jar llama2-train.jar <command> [options]
            commands (each takes --help):
              tokenizer  learn a BPE vocabulary from a text file, write tokenizer.bin
              prepare    tokenize a text file once into a token file for training
              train      train a new model, fine-tune a llama2.c checkpoint, or resume a run
              export     write a training checkpoint or model as a llama2.c file (version 0, 1, 2)
              eval       loss per token, perplexity and bits per byte of a model on a text file
              sample     generate text from a model
            Text files hold stories separated by lines '<|endoftext|>'.
            (--add-modules jdk.incubator.vector makes training several times faster; without it
            the portable kernels are used.)
            """;

    public static void main(String[] args) {
        PrintStream out = System.out;
        try {
            System.exit(run(args, out));
        } catch (BadInputException e) {
            System.err.println("error: " + e.getMessage());
            System.exit(1);
        } catch (IOException | java.io.UncheckedIOException e) {
            System.err.println("error: " + e.getMessage());
            System.exit(1);
        } catch (OutOfMemoryError e) {
            System.err.println("error: out of memory (give java more with -Xmx, or use a smaller model)");
            System.exit(1);
        } catch (RuntimeException e) {
            // a file damaged in a way no check foresaw: still one line, never a stack trace
            System.err.println("error: " + e);
            System.exit(1);
        }
    }

    static int run(String[] args, PrintStream out) throws IOException {
        if (args.length == 0 || args[0].equals("--help") || args[0].equals("-h") || args[0].equals("help")) {
            out.print(HELP);
            return args.length == 0 ? 1 : 0;
        }
        String command = args[0];
        String[] rest = java.util.Arrays.copyOfRange(args, 1, args.length);
        String help = switch (command) {
            case "tokenizer" -> TOKENIZER_HELP;
            case "prepare" -> PREPARE_HELP;
            case "train" -> TrainCommand.HELP;
            case "export" -> EXPORT_HELP;
            case "eval" -> EVAL_HELP;
            case "sample" -> SAMPLE_HELP;
            default -> throw new BadInputException("unknown command '" + command + "' (try --help)");
        };
        if (List.of(rest).contains("--help") || List.of(rest).contains("-h")) {
            out.print(help);
            return 0;
        }
        switch (command) {
            case "tokenizer" -> tokenizer(rest, out);
            case "prepare" -> prepare(rest, out);
            case "train" -> TrainCommand.run(rest);
            case "export" -> export(rest, out);
            case "eval" -> eval(rest, out);
            case "sample" -> sample(rest, out);
            default -> throw new AssertionError(command);
        }
        return 0;
    }

    // ------------------------------------------------------------------------------ tokenizer

    static final String TOKENIZER_HELP = """
            usage: tokenizer --text train.txt --vocab N --out tokenizer.bin
            Learns a byte-fallback BPE vocabulary of N pieces (N >= 259: ids 0-2 special,
            3-258 the bytes, then merges and characters), deterministic for a given text.
            """;

    static void tokenizer(String[] argv, PrintStream out) throws IOException {
        Args a = new Args("tokenizer", argv, Set.of("--text", "--vocab", "--out"), Set.of());
        int vocab = a.integer("--vocab", 0);
        if (vocab < BpeTrainer.FIRST_LEARNED) {
            throw new BadInputException("tokenizer: --vocab must be at least 259 (3 special and 256 byte pieces), got " + vocab);
        }
        Path target = Path.of(a.required("--out"));
        List<String> stories = TokenFile.readStories(a.file("--text"));
        long start = System.nanoTime();
        BpeTrainer.Result result = BpeTrainer.train(stories, vocab);
        try (OutputStream stream = new BufferedOutputStream(Files.newOutputStream(target))) {
            result.tokenizer().write(stream);
        }
        out.printf(Locale.ROOT, "wrote %s: %d pieces (%d merges, %d characters) from %d stories in %.1f s%n",
                target, vocab, result.merges(), result.characters(), stories.size(), (System.nanoTime() - start) / 1e9);
    }

    /** A tokenizer file on its own does not say how many pieces it holds: count them. */
    static Tokenizer readTokenizer(Path path) {
        ByteBuffer buffer = WeightsBridge.map(path).order(ByteOrder.LITTLE_ENDIAN);
        int count = 0;
        if (buffer.remaining() < 4) {
            throw new BadInputException(path + ": too short for a tokenizer file");
        }
        buffer.position(4);
        while (buffer.remaining() >= 8) {
            buffer.getFloat();
            int length = buffer.getInt();
            if (length < 0 || length > buffer.remaining()) {
                throw new BadInputException(path + ": damaged tokenizer file (piece " + count + " overruns the file)");
            }
            buffer.position(buffer.position() + length);
            count++;
        }
        if (buffer.hasRemaining()) {
            throw new BadInputException(path + ": damaged tokenizer file (trailing bytes)");
        }
        return WeightsBridge.readTokenizer(path, count);
    }

    // ------------------------------------------------------------------------------ prepare

    static final String PREPARE_HELP = """
            usage: prepare --text FILE --tokenizer tokenizer.bin --out FILE.tok
            Encodes every story with BOS in front (as the engine does: dummy-prefix space, merges
            by score) and writes all of them, concatenated, as a compact token file.
            """;

    static void prepare(String[] argv, PrintStream out) throws IOException {
        Args a = new Args("prepare", argv, Set.of("--text", "--tokenizer", "--out"), Set.of());
        Tokenizer tokenizer = readTokenizer(a.file("--tokenizer"));
        List<String> stories = TokenFile.readStories(a.file("--text"));
        Path target = Path.of(a.required("--out"));
        long start = System.nanoTime();
        TokenFile tokens = TokenFile.encode(tokenizer, stories);
        tokens.write(target);
        long bytes = stories.stream().mapToLong(s -> s.getBytes(StandardCharsets.UTF_8).length).sum();
        out.printf(Locale.ROOT, "wrote %s: %d stories, %d tokens (%.2f bytes per token) in %.1f s%n", target,
                stories.size(), tokens.tokens().length, (double) bytes / tokens.tokens().length,
                (System.nanoTime() - start) / 1e9);
    }

    // ------------------------------------------------------------------------------ export

    static final String EXPORT_HELP = """
            usage: export --model FILE --version 0|1|2 --out model.bin
            FILE is a training checkpoint (checkpoint.bin) or any llama2.c checkpoint.
            Version 0 is what llama2.c's run.c reads; 2 is Q8_0 (runq.c), about 4 times smaller.
            """;

    static void export(String[] argv, PrintStream out) throws IOException {
        Args a = new Args("export", argv, Set.of("--model", "--version", "--out"), Set.of());
        Model model = loadModel(a.file("--model"));
        int version = a.integer("--version", 0);
        if (version < 0 || version > 2) {
            throw new BadInputException("export: --version must be 0, 1 or 2, got " + version);
        }
        Path target = Path.of(a.required("--out"));
        WeightsBridge.export(model.layout, model.params, version, target);
        out.printf("wrote %s (version %d, %d bytes)%n", target, version, Files.size(target));
    }

    /** A model from a training checkpoint or from a llama2.c file. */
    static Model loadModel(Path path) {
        if (isTrainingCheckpoint(path)) {
            TrainingCheckpoint.State state = TrainingCheckpoint.load(path);
            return new Model(new ParameterLayout(state.config()), state.params());
        }
        Checkpoint checkpoint = WeightsBridge.readCheckpoint(path);
        ParameterLayout layout = new ParameterLayout(checkpoint.config());
        return new Model(layout, WeightsBridge.fromWeights(layout, checkpoint.weights()));
    }

    private static boolean isTrainingCheckpoint(Path path) {
        try (var in = new java.io.DataInputStream(Files.newInputStream(path))) {
            return in.readInt() == 0x4c325443;
        } catch (IOException e) {
            return false;
        }
    }

    // ------------------------------------------------------------------------------ eval

    static final String EVAL_HELP = """
            usage: eval --model model.bin --tokenizer tokenizer.bin --text test.txt [--threads N]
            Each story is encoded with BOS and scored on every token after it; a story longer than
            seq_len is scored in consecutive windows, each restarted with BOS. Prints the mean
            cross-entropy per token, the perplexity, and last, bits per byte: total nats / ln 2 /
            UTF-8 bytes of the stories.
            """;

    static void eval(String[] argv, PrintStream out) {
        Args a = new Args("eval", argv, Set.of("--model", "--tokenizer", "--text", "--threads"), Set.of());
        Model model = loadModel(a.file("--model"));
        Tokenizer tokenizer = WeightsBridge.readTokenizer(a.file("--tokenizer"), model.config().vocabSize());
        List<String> stories = TokenFile.readStories(a.file("--text"));
        if (stories.isEmpty()) {
            throw new BadInputException("eval: " + a.required("--text") + " holds no stories");
        }
        long start = System.nanoTime();
        Evaluation e = Evaluation.of(model, tokenizer, stories, a.integer("--threads", Runtime.getRuntime().availableProcessors()));
        out.printf(Locale.ROOT, "stories=%d tokens=%d bytes=%d seconds=%.1f%n", e.stories(), e.tokens(), e.bytes(),
                (System.nanoTime() - start) / 1e9);
        out.printf(Locale.ROOT, "loss_per_token=%.6f%n", e.lossPerToken());
        out.printf(Locale.ROOT, "perplexity=%.4f%n", e.perplexity());
        out.printf(Locale.ROOT, "bits_per_byte=%.6f%n", e.bitsPerByte());
    }

    // ------------------------------------------------------------------------------ sample

    static final String SAMPLE_HELP = """
            usage: sample --model model.bin --tokenizer tokenizer.bin [--prompt TEXT] [--seed N]
                          [--temperature F (0.8)] [--topp F (0.9)] [--steps N (256; 0 = seq_len)]
            Generates one story with the engine (same sampler and seed semantics as run.c).
            """;

    static void sample(String[] argv, PrintStream out) {
        Args a = new Args("sample", argv, Set.of("--model", "--tokenizer", "--prompt", "--seed", "--temperature",
                "--topp", "--steps"), Set.of());
        Checkpoint checkpoint = isTrainingCheckpoint(a.file("--model")) ? null : WeightsBridge.readCheckpoint(a.file("--model"));
        Transformer transformer;
        if (checkpoint != null) {
            transformer = new Transformer(checkpoint.weights());
        } else {
            Model m = loadModel(a.file("--model"));
            transformer = new Transformer(WeightsBridge.toWeights(m.layout, m.params));
        }
        Config c = transformer.config();
        Tokenizer tokenizer = WeightsBridge.readTokenizer(a.file("--tokenizer"), c.vocabSize());
        Sampler sampler = new Sampler(c.vocabSize(), a.number("--temperature", 0.8f), a.number("--topp", 0.9f),
                a.longValue("--seed", 42));
        Generation g = new Generation(transformer, tokenizer, sampler, a.string("--prompt", ""), a.integer("--steps", 256));
        StringBuilder text = new StringBuilder();
        while (!g.isDone()) {
            Step s = g.step();
            if (s == null) {
                break;
            }
            text.append(s.text());
        }
        out.println(text);
    }
}
