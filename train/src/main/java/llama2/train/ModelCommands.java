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
        Path input = a.file("--model");
        Path target = a.output("--out", input);
        int version = a.integer("--version", 0);
        if (version < 0 || version > 2) {
            throw new BadInputException("export: --version must be 0, 1 or 2, got " + version);
        }
        Model model = loadModel(input);
        WeightsBridge.export(model.layout, model.params, version, target);
        out.printf("wrote %s (version %d, %d bytes)%n", target, version, Files.size(target));
    }

    /** A model from a training checkpoint or from a llama2.c file. */
    static Model loadModel(Path path) {
        if (TrainingCheckpoint.isOne(path)) {
            TrainingCheckpoint.State state = TrainingCheckpoint.load(path);
            return new Model(new ParameterLayout(state.config()), state.params());
        }
        Checkpoint checkpoint = WeightsBridge.readCheckpoint(path);
        ParameterLayout layout = new ParameterLayout(checkpoint.config());
        return new Model(layout, WeightsBridge.fromWeights(layout, checkpoint.weights()));
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
        int threads = MemoryEstimate.threads(a.integer("--threads", Runtime.getRuntime().availableProcessors()));
        Path modelFile = a.file("--model"), text = a.file("--text");
        List<String> stories = a.has("--repair-text") ? TextCommands.repaired(text, out) : TextCommands.storiesOf(text);
        Model model = loadModel(modelFile);
        Tokenizer tokenizer = WeightsBridge.readTokenizer(a.file("--tokenizer"), model.config().vocabSize());
        model = windowsFor(model, stories, threads);
        long start = System.nanoTime();
        Evaluation e = Evaluation.of(model, tokenizer, stories, threads);
        out.printf(Locale.ROOT, "stories=%d tokens=%d bytes=%d seconds=%.1f%n", e.stories(), e.tokens(), e.bytes(),
                (System.nanoTime() - start) / 1e9);
        out.printf(Locale.ROOT, "loss_per_token=%.6f%n", e.lossPerToken());
        out.printf(Locale.ROOT, "perplexity=%.4f%n", e.perplexity());
        out.printf(Locale.ROOT, "bits_per_byte=%.6f%n", e.bitsPerByte());
    }

    /**
     * The model with windows no longer than the longest story can be (one token per byte, plus
     * BOS and the dummy-prefix space): the scores are the same, and a model with a long seq_len
     * does not need attention buffers for windows no story fills. Refuses what will not fit.
     */
    private static Model windowsFor(Model model, List<String> stories, int threads) {
        long longest = 0;
        for (String s : stories) {
            longest = Math.max(longest, s.getBytes(java.nio.charset.StandardCharsets.UTF_8).length + 2L);
        }
        Config c = model.config();
        if (longest < c.seqLen()) {
            Config shorter = new Config(c.dim(), c.hiddenDim(), c.nLayers(), c.nHeads(), c.nKvHeads(), c.vocabSize(),
                    (int) longest, c.sharedClassifier());
            model = new Model(new ParameterLayout(shorter), model.params);
        }
        MemoryEstimate.require("eval", model.layout, model.layout.seqLen, threads, false, false);
        return model;
    }

    // ------------------------------------------------------------------------------ sample

    static final String SAMPLE_HELP = """
            usage: sample --model model.bin --tokenizer tokenizer.bin [--prompt TEXT] [--seed N (42; 0 = the clock)]
                          [--temperature F (0.8)] [--topp F (0.9)] [--steps N (256; 0 = seq_len)]
            Generates one story with the engine (same sampler and seed semantics as run.c).
            """;

    static void sample(String[] argv, PrintStream out) {
        Args a = new Args("sample", argv, Set.of("--model", "--tokenizer", "--prompt", "--seed", "--temperature",
                "--topp", "--steps"), Set.of());
        Checkpoint checkpoint = TrainingCheckpoint.isOne(a.file("--model")) ? null : WeightsBridge.readCheckpoint(a.file("--model"));
        Transformer transformer;
        if (checkpoint != null) {
            transformer = new Transformer(checkpoint.weights());
        } else {
            Model m = loadModel(a.file("--model"));
            transformer = new Transformer(WeightsBridge.toWeights(m.layout, m.params));
        }
        Config c = transformer.config();
        Tokenizer tokenizer = WeightsBridge.readTokenizer(a.file("--tokenizer"), c.vocabSize());
        long seed = a.longValue("--seed", 42);
        if (seed == 0) {
            seed = System.currentTimeMillis() / 1000; // as run.c: 0 means the clock (xorshift would stay at 0)
            System.err.println("seed: " + seed);
        }
        Sampler sampler = new Sampler(c.vocabSize(), a.number("--temperature", 0.8f), a.number("--topp", 0.9f), seed);
        Generation g = new Generation(transformer, tokenizer, sampler, a.string("--prompt", ""), a.integer("--steps", 256));
        StringBuilder text = new StringBuilder();
        Step s;
        do {
            s = g.step();
            text.append(s.text());
        } while (!s.isLast());
        out.println(text);
    }
}
