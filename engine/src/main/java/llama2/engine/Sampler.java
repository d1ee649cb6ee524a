package llama2.engine;

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
    private long state;
    private final int[] candidates; // top-p scratch: token ids above the cutoff

    public Sampler(int vocabSize, float temperature, float topp, long seed) {
        if (!(temperature >= 0f) || Float.isInfinite(temperature)) {
            throw new BadInputException("temperature must be a number >= 0, found " + temperature);
        }
        if (!(topp >= 0f && topp <= 1f)) {
            throw new BadInputException("top-p must be within [0, 1], found " + topp);
        }
        this.vocabSize = vocabSize;
        this.temperature = temperature;
        this.topp = topp;
        this.state = seed;
        this.candidates = new int[vocabSize];
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
        float coin = randomFloat();
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
                candidates[n++] = i;
            }
        }
        if (n == 0) {
            // Nothing reaches the cutoff: a near-uniform distribution with topp below 1/n (where
            // run.c reads outside its array), or NaN probabilities. The likeliest token it is.
            return argmax(p);
        }
        sortByProbabilityDescending(candidates, n, p);
        float cumulative = 0f;
        int last = n - 1;
        for (int i = 0; i < n; i++) {
            cumulative += p[candidates[i]];
            if (cumulative > topp) {
                last = i;
                break;
            }
        }
        float r = coin * cumulative;
        float cdf = 0f;
        for (int i = 0; i <= last; i++) {
            cdf += p[candidates[i]];
            if (r < cdf) {
                return candidates[i];
            }
        }
        return candidates[last];
    }

    /**
     * Sorts token ids most probable first, equal probabilities in ascending id order. That is
     * the order run.c gets from glibc's qsort, which is a stable merge sort: candidates are
     * gathered in id order, so ties stay in id order (random models have many ties).
     * A heapsort of a min-heap (its root, the token that sorts last, is swapped to the end each
     * round), written out because the JDK sorts ints only by value and boxing thousands of
     * candidates per token would be slow in the browser.
     */
    private static void sortByProbabilityDescending(int[] ids, int n, float[] p) {
        for (int i = n / 2 - 1; i >= 0; i--) {
            siftDown(ids, i, n, p);
        }
        for (int end = n - 1; end > 0; end--) {
            int last = ids[0];
            ids[0] = ids[end];
            ids[end] = last;
            siftDown(ids, 0, end, p);
        }
    }

    private static void siftDown(int[] ids, int i, int n, float[] p) {
        while (true) {
            int child = 2 * i + 1;
            if (child >= n) {
                return;
            }
            if (child + 1 < n && sortsAfter(ids[child + 1], ids[child], p)) {
                child++;
            }
            if (!sortsAfter(ids[child], ids[i], p)) {
                return;
            }
            int t = ids[i];
            ids[i] = ids[child];
            ids[child] = t;
            i = child;
        }
    }

    /** Whether token {@code a} comes after token {@code b}: less probable, or as probable and a higher id. */
    private static boolean sortsAfter(int a, int b, float[] p) {
        return p[a] < p[b] || (p[a] == p[b] && a > b);
    }

    /** run.c's xorshift64* generator. */
    private int randomInt() {
        state ^= state >>> 12;
        state ^= state << 25;
        state ^= state >>> 27;
        return (int) ((state * 0x2545F4914F6CDD1DL) >>> 32);
    }

    /** A float in [0, 1) from the top 24 bits. */
    private float randomFloat() {
        return (randomInt() >>> 8) / 16777216.0f;
    }
}
