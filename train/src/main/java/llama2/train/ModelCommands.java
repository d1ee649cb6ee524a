package llama2.train;

import java.io.IOException;
import java.io.PrintStream;
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

/** The {@code export}, {@code eval} and {@code sample} subcommands: what to do with a trained model. */
final class ModelCommands {
    private ModelCommands() {}

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
            usage: eval --model model.bin --tokenizer tokenizer.bin --text test.txt [--threads N] [--repair-text]
            Each story is encoded with BOS and scored on every token after it; a story longer than
            seq_len is scored in consecutive windows, each restarted with BOS. Prints the mean
            cross-entropy per token, the perplexity, and last, bits per byte: total nats / ln 2 /
            UTF-8 bytes of the stories. A version 2 (Q8_0) file is scored with its dequantized
            weights in float arithmetic (runq.c also quantizes the activations).
            The text is scored as found, so that every model is scored on the same bytes;
            --repair-text scores it with double-encoded UTF-8 repaired, as 'prepare' trains on.
            """;

    static void eval(String[] argv, PrintStream out) {
        Args a = new Args("eval", argv, Set.of("--model", "--tokenizer", "--text", "--threads"),
                Set.of("--repair-text"));
        Model model = loadModel(a.file("--model"));
        Tokenizer tokenizer = WeightsBridge.readTokenizer(a.file("--tokenizer"), model.config().vocabSize());
        List<String> stories = a.has("--repair-text") ? TextCommands.repaired(a.file("--text"), out)
                : TokenFile.readStories(a.file("--text"));
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
