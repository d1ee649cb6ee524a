package llama2.train;

/**
 * Inverted dropout with masks that are a pure function of (window seed, site, index): each
 * element is kept with probability {@code 1 − rate} and then scaled by {@code 1 / (1 − rate)}, so
 * the expected activation is unchanged and evaluation simply runs without it.
 *
 * <p>Nothing is stored: the backward pass recomputes the same mask from the same seed, and a
 * resumed run draws the same masks as an uninterrupted one, since the trainer derives each
 * window's seed from the run's seed, the step and the window's place in the step. Forward and
 * backward are one operation, {@link #apply}: {@code y = m ⊙ x} and {@code dx = m ⊙ dy}.
 */
final class Dropout {
    /** Where a mask is applied: the embedding, and per layer three sites. */
    static final int EMBEDDING = 0, ATTENTION = 1, ATTENTION_OUT = 2, FFN_OUT = 3;

    final float rate;
    private final float keepScale;
    /** An element is kept when the top 24 bits of its hash are at least this. */
    private final long threshold;
    private long seed;

    Dropout(float rate) {
        if (!(rate >= 0 && rate < 1)) {
            throw new IllegalArgumentException("dropout rate must be in [0, 1), got " + rate);
        }
        this.rate = rate;
        this.keepScale = 1f / (1f - rate);
        this.threshold = Math.round(rate * (double) (1 << 24));
    }

    /** Selects the masks of one window. */
    void reseed(long windowSeed) {
        this.seed = windowSeed;
    }

    /** The seed of window {@code window} of optimizer step {@code step} of a run seeded {@code runSeed}. */
    static long windowSeed(long runSeed, int step, int window) {
        return mix(mix(runSeed ^ 0x6A09E667F3BCC908L) + ((long) step << 20) + window);
    }

    private static int site(int kind, int layer) {
        return kind + 4 * layer;
    }

    /** The factor (0 or 1/(1−rate)) of element {@code index} at a site, for the current window. */
    float factor(int kind, int layer, long index) {
        long z = mix(mix(seed + site(kind, layer) * 0x9E3779B97F4A7C15L) + index);
        return (z >>> 40) >= threshold ? keepScale : 0f;
    }

    /** {@code a[off + i] *= factor(kind, layer, first + i)} for i &lt; len. */
    void apply(float[] a, int off, int len, int kind, int layer, long first) {
        long base = mix(seed + site(kind, layer) * 0x9E3779B97F4A7C15L) + first;
        for (int i = 0; i < len; i++) {
            a[off + i] *= (mix(base + i) >>> 40) >= threshold ? keepScale : 0f;
        }
    }

    /** SplitMix64's finaliser: every input bit affects every output bit. */
    private static long mix(long z) {
        z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
        z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
        return z ^ (z >>> 31);
    }
}
