package llama2.engine;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.util.Arrays;
import java.util.List;
import llama2.jvm.FastKernels;
import llama2.jvm.ThreadedShards;

/** One line of {@code golden/generate.tsv}: a run of the reference and the ids it walked. */
public record GoldenCase(String name, String model, String tokenizer, float temperature, float topp,
                         long seed, int steps, String prompt, int[] ids) {

    /**
     * For a parameterized test: every case, or, without ../shared, one stand-in whose test is
     * then skipped by {@link Shared#dir()} (an empty source would run, and report, nothing).
     */
    public static List<GoldenCase> orSkipped() {
        return Shared.exists() ? all() : List.of(new GoldenCase("../shared is missing", "", "", 0f, 0f, 0, 0, "", new int[0]));
    }

    public static List<GoldenCase> all() {
        try {
            return Files.readAllLines(Shared.golden("generate.tsv"), StandardCharsets.UTF_8).stream()
                    .filter(line -> !line.isBlank())
                    .map(GoldenCase::parse)
                    .toList();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    static GoldenCase parse(String line) {
        String[] f = line.split("\t", -1);
        int[] ids = Arrays.stream(f[8].trim().split(" ")).mapToInt(Integer::parseInt).toArray();
        return new GoldenCase(f[0], f[1], f[2], Float.parseFloat(f[3]), Float.parseFloat(f[4]),
                Long.parseLong(f[5]), Integer.parseInt(f[6]), unescape(f[7]), ids);
    }

    /** The golden files write a newline as {@code \n} and a backslash as {@code \\}. */
    public static String unescape(String s) {
        StringBuilder out = new StringBuilder();
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (c == '\\' && i + 1 < s.length()) {
                char e = s.charAt(++i);
                out.append(switch (e) {
                    case 'n' -> '\n';
                    case 't' -> '\t';
                    default -> e;
                });
            } else {
                out.append(c);
            }
        }
        return out.toString();
    }

    /** The ids this engine (the portable core) produces for the case. */
    public int[] generate() {
        Checkpoint checkpoint = Shared.checkpoint(model);
        Tokenizer tok = Shared.tokenizer(tokenizer, checkpoint.config().vocabSize());
        Sampler sampler = new Sampler(checkpoint.config().vocabSize(), temperature, topp, seed);
        return run(new Generation(new Transformer(checkpoint.weights()), tok, sampler, prompt, steps));
    }

    /** The ids the CLI's way produces: SIMD kernels where available, the model in {@code shards} threads. */
    public int[] generate(int shards) {
        Checkpoint checkpoint = Shared.checkpoint(model);
        Tokenizer tok = Shared.tokenizer(tokenizer, checkpoint.config().vocabSize());
        Sampler sampler = new Sampler(checkpoint.config().vocabSize(), temperature, topp, seed);
        try (ThreadedShards threads = new ThreadedShards(FastKernels.of(checkpoint.weights()), shards)) {
            return run(new Generation(threads.transformer(), tok, sampler, prompt, steps));
        }
    }

    /**
     * The ids of {@code shards} shards that each loaded only their own rows of the file (as the
     * browser's workers do: {@link CheckpointLoader} given the shard), in chunks, on threads.
     */
    public int[] generateFromSlices(int shards) {
        return generateFromSlices(shards, false);
    }

    /** ... with Q8_0 matrices packed ({@link CheckpointLoader#packingQuantized}), as the WebAssembly build keeps them. */
    public int[] generateFromSlices(int shards, boolean packed) {
        byte[] file = Shared.bytes(Shared.model(model));
        Weights[] slices = new Weights[shards];
        for (int s = 0; s < shards; s++) {
            CheckpointLoader loader = new CheckpointLoader(file.length, model, false, s, shards);
            if (packed) {
                loader.packingQuantized();
            }
            for (int at = 0; at < file.length; at += 1000) {
                loader.accept(java.nio.ByteBuffer.wrap(file, at, Math.min(1000, file.length - at)));
            }
            slices[s] = loader.finish().weights();
        }
        Tokenizer tok = Shared.tokenizer(tokenizer, slices[0].config().vocabSize());
        Sampler sampler = new Sampler(slices[0].config().vocabSize(), temperature, topp, seed);
        try (ThreadedShards threads = new ThreadedShards(slices)) {
            return run(new Generation(threads.transformer(), tok, sampler, prompt, steps));
        }
    }

    /**
     * The ids of {@code shards} shards, each holding its slice, run stage by stage in one thread
     * the way browser workers passing messages run them: the lead's forward pass begins only
     * once the stages ran ahead ({@link Transformer#stage}), every exchange completes after the
     * stage that started it.
     */
    public int[] generateInStages(int shards) {
        byte[] file = Shared.bytes(Shared.model(model));
        Transformer[] parts = new Transformer[shards];
        float[][] pending = new float[shards][];
        float[][] staging = new float[1][];
        class NotAhead extends RuntimeException {
        }
        for (int s = 0; s < shards; s++) {
            CheckpointLoader loader = new CheckpointLoader(file.length, model, false, s, shards);
            loader.accept(java.nio.ByteBuffer.wrap(file));
            Weights slice = loader.finish().weights();
            int shard = s;
            staging[0] = new float[Math.max(slice.config().vocabSize(), slice.config().hiddenDim())];
            parts[s] = new Transformer(slice, s, shards, new Exchange() {
                @Override
                public void begin(int token, int pos) {
                    throw new NotAhead();
                }

                @Override
                public void allGather(float[] v, int from, int to) {
                    System.arraycopy(v, from, staging[0], from, to - from);
                    pending[shard] = v;
                }
            });
        }
        Config config = parts[0].config();
        Generation generation = new Generation(parts[0], Shared.tokenizer(tokenizer, config.vocabSize()),
                new Sampler(config.vocabSize(), temperature, topp, seed), prompt, steps);
        int[] input = new int[2];
        for (boolean last = false; !last; ) {
            try {
                last = generation.step().isLast();
            } catch (NotAhead e) { // the lead asked for a forward pass: run it in stages, then step again
                input[0] = generation.ids()[generation.position()];
                input[1] = generation.position();
                for (int stage = 0; stage < parts[0].stages(); stage++) {
                    java.util.Arrays.fill(pending, null);
                    for (Transformer part : parts) {
                        part.stage(input[0], input[1], stage);
                    }
                    for (float[] v : pending) {
                        if (v != null) {
                            System.arraycopy(staging[0], 0, v, 0, v.length);
                        }
                    }
                }
            }
        }
        return generation.ids();
    }

    private static int[] run(Generation generation) {
        while (!generation.step().isLast()) {
            // each step appends its token to ids()
        }
        return generation.ids();
    }

    @Override
    public String toString() {
        return name;
    }
}
