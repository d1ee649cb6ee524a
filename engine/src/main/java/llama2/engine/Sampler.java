package llama2.engine;

import java.util.Arrays;

/**
 * Picks the next token from the logits as run.c does: greedy at temperature 0, otherwise
 * softmax of logits / temperature, then plain multinomial sampling or, when
 * {@code 0 < topp < 1}, nucleus (top-p) sampling. One random number per sampled token, from
 * run.c's xorshift generator, so a seed reproduces a story.
 */
public final class Sampler {
    private final int vocabSize;
    private final float temperature;
    private final float topp;
    private final Xorshift random;
    // top-p scratch: the candidate tokens, their sort keys, and room for the radix sort
    private final int[] ids;
    private final int[] keys;
    private final int[] spareIds;
    private final int[] spareKeys;
    private final int[] counts = new int[RADIX];

    public Sampler(int vocabSize, float temperature, float topp, long seed) {
        checkSettings(temperature, topp);
        this.vocabSize = vocabSize;
        this.temperature = temperature;
        this.topp = topp;
        this.random = new Xorshift(seed);
        this.ids = new int[vocabSize];
        this.keys = new int[vocabSize];
        this.spareIds = new int[vocabSize];
        this.spareKeys = new int[vocabSize];
    }

    /**
     * The rule for temperature and top-p, wherever they come from (the CLI's {@code -t} and
     * {@code -p}, the page's fields): the one place that checks them and words the refusal.
     */
    public static void checkSettings(double temperature, double topp) {
        if (!(temperature >= 0) || Double.isInfinite(temperature)) {
            throw new BadInputException("temperature must be a number, 0 or more (0 always picks the likeliest token), found "
                    + (float) temperature);
        }
        if (!(topp >= 0 && topp <= 1)) {
            throw new BadInputException("top-p must be a number from 0 to 1 (0 and 1 turn it off), found " + (float) topp);
        }
    }

    /** The next token id. Modifies {@code logits} (they become probabilities). */
    public int sample(float[] logits) {
        if (temperature == 0f) {
            return argmax(logits);
        }
        for (int i = 0; i < vocabSize; i++) {
            logits[i] /= temperature;
        }
        Transformer.softmax(logits, vocabSize);
        float coin = random.nextFloat();
        if (topp <= 0f || topp >= 1f) {
            return sampleMultinomial(logits, coin);
        }
        return sampleTopP(logits, coin);
    }

    private int argmax(float[] p) {
        int best = 0;
        for (int i = 1; i < vocabSize; i++) {
            if (p[i] > p[best]) {
                best = i;
            }
        }
        return best;
    }

    private int sampleMultinomial(float[] p, float coin) {
        float cdf = 0f;
        for (int i = 0; i < vocabSize; i++) {
            cdf += p[i];
            if (coin < cdf) {
                return i;
            }
        }
        return vocabSize - 1; // in case of rounding errors
    }

    /**
     * Samples among the smallest set of most likely tokens whose probabilities add up to more
     * than {@code topp}. Tokens below {@code (1 - topp) / (n - 1)} cannot be in that set, so
     * they are dropped before sorting, as run.c does.
     */
    private int sampleTopP(float[] p, float coin) {
        float cutoff = (1.0f - topp) / (vocabSize - 1);
        int n = 0;
        for (int i = 0; i < vocabSize; i++) {
            if (p[i] >= cutoff) {
                ids[n] = i;
                keys[n] = DESCENDING - Float.floatToRawIntBits(p[i]);
                n++;
            }
        }
        if (n == 0) {
            // Nothing reaches the cutoff: a near-uniform distribution with topp below 1/n (where
            // run.c reads outside its array), or NaN probabilities. The likeliest token it is.
            return argmax(p);
        }
        sortByKey(n);
        float cumulative = 0f;
        int last = n - 1;
        for (int i = 0; i < n; i++) {
            cumulative += p[ids[i]];
            if (cumulative > topp) {
                last = i;
                break;
            }
        }
        float r = coin * cumulative;
        float cdf = 0f;
        for (int i = 0; i <= last; i++) {
            cdf += p[ids[i]];
            if (r < cdf) {
                return ids[i];
            }
        }
        return ids[last];
    }

    /**
     * A probability is never negative, so its float bits order like its value, and this minus
     * those bits orders the most probable first.
     */
    private static final int DESCENDING = 0x7FFFFFFF;
    private static final int RADIX_BITS = 11;
    private static final int RADIX = 1 << RADIX_BITS;

    /**
     * Sorts {@code ids[0..n)} by {@code keys}, a least-significant-digit radix sort: three
     * stable passes of 11 bits. Stability matters: run.c sorts with glibc's qsort, a stable
     * merge sort, and candidates arrive in id order, so equal probabilities (random models
     * have many) stay in id order. Linear time, and int arrays only, which the browser runs
     * fast: the sort is most of top-p's cost on a flat distribution of 32,000 tokens.
     */
    private void sortByKey(int n) {
        int[] fromKeys = keys, fromIds = ids, toKeys = spareKeys, toIds = spareIds;
        for (int shift = 0; shift < 31; shift += RADIX_BITS) {
            Arrays.fill(counts, 0);
            for (int i = 0; i < n; i++) {
                counts[(fromKeys[i] >>> shift) & (RADIX - 1)]++;
            }
            int start = 0;
            for (int digit = 0; digit < RADIX; digit++) {
                int count = counts[digit];
                counts[digit] = start;
                start += count;
            }
            for (int i = 0; i < n; i++) {
                int slot = counts[(fromKeys[i] >>> shift) & (RADIX - 1)]++;
                toKeys[slot] = fromKeys[i];
                toIds[slot] = fromIds[i];
            }
            int[] t = fromKeys;
            fromKeys = toKeys;
            toKeys = t;
            t = fromIds;
            fromIds = toIds;
            toIds = t;
        }
        // Three passes leave the result in the spare arrays.
        System.arraycopy(fromIds, 0, ids, 0, n);
    }
}
