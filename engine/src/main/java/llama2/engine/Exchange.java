package llama2.engine;

/**
 * How the shards of one model compute a forward pass together. Each shard is a {@link Transformer}
 * that computes its own rows of every matrix and its own attention heads; after each such step it
 * calls {@link #allGather} and continues with the whole vector. The engine stays single-threaded:
 * launchers provide the transport (threads on the JVM, workers in the browser).
 */
public interface Exchange {
    /** One shard alone: nothing to exchange. */
    Exchange NONE = new Exchange() {
        @Override
        public void allGather(float[] v, int from, int to) {
        }
    };

    /**
     * Called first by every forward pass, before anything is computed; the lead shard's transport
     * starts the same step on the other shards.
     */
    default void begin(int token, int pos) {
    }

    /**
     * This shard computed {@code v[from, to)}; on return {@code v} holds every shard's part. The
     * parts of all shards tile the whole of {@code v}.
     */
    void allGather(float[] v, int from, int to);
}
