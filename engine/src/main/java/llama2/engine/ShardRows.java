package llama2.engine;

/**
 * The part of a model that shard {@code s} of {@code n} computes: its rows of every matrix. Query
 * and key/value rows come in whole heads (a shard's query heads are those that read its key/value
 * heads); the other ranges start at multiples of {@link #ALIGNMENT}, so each shard's rows are whole
 * kernel blocks. The shards' ranges of one kind tile all of its rows; a range may be empty.
 *
 * <p>{@link Transformer} computes these rows, and {@link CheckpointLoader} can keep only these
 * rows of a file (a browser worker holds just its slice of the weights).
 */
public record ShardRows(int qFrom, int qTo,           // rows of wq: the query heads of this shard's kv heads
                        int kvFrom, int kvTo,         // rows of wk and wv: this shard's kv heads
                        int dimFrom, int dimTo,       // rows of wo and w2
                        int hiddenFrom, int hiddenTo, // rows of w1 and w3
                        int vocabFrom, int vocabTo) { // rows of the embedding and the classifier

    /** Row ranges start at multiples of this, so each shard's rows are whole kernel blocks. */
    public static final int ALIGNMENT = 16;

    /** Shard {@code shard} of {@code shards}. */
    public static ShardRows of(Config c, int shard, int shards) {
        if (shard < 0 || shard >= shards) {
            throw new IllegalArgumentException("shard " + shard + " of " + shards);
        }
        int headSize = c.headSize();
        int kvFrom = split(c.nKvHeads(), 1, shard, shards) * headSize;
        int kvTo = split(c.nKvHeads(), 1, shard + 1, shards) * headSize;
        return new ShardRows(kvFrom * c.kvMul(), kvTo * c.kvMul(), kvFrom, kvTo,
                split(c.dim(), ALIGNMENT, shard, shards), split(c.dim(), ALIGNMENT, shard + 1, shards),
                split(c.hiddenDim(), ALIGNMENT, shard, shards), split(c.hiddenDim(), ALIGNMENT, shard + 1, shards),
                split(c.vocabSize(), ALIGNMENT, shard, shards), split(c.vocabSize(), ALIGNMENT, shard + 1, shards));
    }

    /** All of a model: one shard. */
    public static ShardRows whole(Config c) {
        return of(c, 0, 1);
    }

    /**
     * The most shards worth having for a model, up to {@code wanted}: every shard needs a
     * key/value head of its own, so no more than the model has.
     */
    public static int usable(Config c, int wanted) {
        return Math.max(1, Math.min(wanted, c.nKvHeads()));
    }

    /** Where part {@code s} of {@code n} starts among {@code units}, at a multiple of {@code alignment}. */
    private static int split(int units, int alignment, int s, int n) {
        return s == n ? units : (int) ((long) units * s / n) / alignment * alignment;
    }
}
