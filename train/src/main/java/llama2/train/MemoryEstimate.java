package llama2.train;

import java.util.Locale;

import llama2.engine.BadInputException;

/**
 * The heap a run will need, worked out before anything large is allocated, so that a model too
 * big for the machine is refused in a moment with the figures, not after minutes of allocating.
 * It counts the arrays a {@link Pass} holds (activations for the backward pass, scratch, its
 * gradient) and the model's own (parameters, their transposed copy, and for training the two
 * AdamW moments); Java needs some room beyond that, hence the margin.
 */
final class MemoryEstimate {
    private static final double MARGIN = 1.1;
    /** The largest array the JVM allocates. */
    private static final long MAX_ARRAY = Integer.MAX_VALUE - 8;

    private MemoryEstimate() {}

    /** Floats one pass allocates for windows of {@code n} tokens; refuses arrays Java cannot index. */
    static long workerFloats(ParameterLayout l, long n, boolean dropout) {
        long d = l.dim, kv = l.kvDim, h = l.hidden;
        long attention = l.heads * n * n;
        for (long array : new long[] {attention, n * l.vocab, n * h, n * d}) {
            if (array > MAX_ARRAY) {
                throw new BadInputException(String.format(Locale.ROOT, "seq_len %d is too long for this model: one buffer"
                        + " of the attention or the logits would hold %,d floats, more than the %,d a Java array can",
                        n, array, MAX_ARRAY));
            }
        }
        long perLayer = 7 * n * d + 2 * n * kv + attention + 3 * n * h + 2 * n;
        long scratch = 4 * n * d + 2 * n * kv + 3 * n * h + 2 * l.headSize * n + n * n;
        return l.size + l.layers * (perLayer + (dropout ? attention : 0)) + (n * d) + n * d + n + n * l.vocab + scratch;
    }

    /**
     * Refuses when the run would need more heap than Java may use.
     *
     * @param workers  workers (shards for training, threads for evaluation)
     * @param training whether the AdamW moments are needed too
     * @param dropout  whether the passes keep the attention weights twice (before and after dropout)
     */
    static void require(String command, ParameterLayout l, long n, int workers, boolean training, boolean dropout) {
        long model = (training ? 4L : 2L) * l.size;
        long perWorker = workerFloats(l, n, dropout);
        long bytes = (long) (4 * MARGIN * (model + workers * perWorker));
        long available = Runtime.getRuntime().maxMemory();
        if (bytes > available) {
            throw new BadInputException(String.format(Locale.ROOT, "%s: this needs about %,d MB (%,d parameters, %d %s of"
                            + " %,d floats each for windows of %d tokens), more than the %,d MB Java may use here; give java"
                            + " more with -Xmx, or use fewer %s, a shorter seq_len or a smaller model",
                    command, bytes >> 20, l.size, workers, training ? "shards" : "threads", perWorker, n,
                    available >> 20, training ? "--shards" : "--threads"));
        }
    }

    /** At most one thread per core: more only cost memory. */
    static int threads(int requested) {
        int cores = Runtime.getRuntime().availableProcessors();
        if (requested <= 0) {
            throw new BadInputException("--threads must be positive, got " + requested);
        }
        return Math.min(requested, cores);
    }
}
