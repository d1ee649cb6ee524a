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
    private long state;
    private final double[] sortKeys; // top-p scratch: one key per token above the cutoff

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
        this.sortKeys = new double[vocabSize];
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
                sortKeys[n++] = sortKey(p[i], i);
            }
        }
        if (n == 0) {
            // Nothing reaches the cutoff: a near-uniform distribution with topp below 1/n (where
            // run.c reads outside its array), or NaN probabilities. The likeliest token it is.
            return argmax(p);
        }
        Arrays.sort(sortKeys, 0, n);
        // sortKeys ascend, so the most probable token is the last key: walk from the end.
        float cumulative = 0f;
        int last = 0;
        for (int k = n - 1; k >= 0; k--) {
            cumulative += probability(sortKeys[k]);
            last = k;
            if (cumulative > topp) {
                break;
            }
        }
        float r = coin * cumulative;
        float cdf = 0f;
        for (int k = n - 1; k >= last; k--) {
            cdf += probability(sortKeys[k]);
            if (r < cdf) {
                return token(sortKeys[k]);
            }
        }
        return token(sortKeys[last]);
    }

    // Top-p sorts (probability, token) pairs as single doubles, because a primitive sort is
    // several times faster than sorting token ids by a looked-up probability, in the browser
    // too, where a double is a native number and a long is not. A key is
    //   bits(probability) * 2^21 + (2^21 - 1 - token),
    // exact in a double (31 + 21 bits < 53). A probability is not negative, so its bits order
    // like its value; and among equal probabilities the lower id gets the higher key, so it
    // comes first when walking down: the order run.c gets from glibc's qsort, a stable merge
    // sort over candidates gathered in id order (random models have many exact ties).
    private static final double TOKEN_RANGE = 1 << 21; // Config caps the vocabulary at 2^20

    private static double sortKey(float probability, int token) {
        return Float.floatToRawIntBits(probability) * TOKEN_RANGE + (TOKEN_RANGE - 1 - token);
    }

    private static float probability(double key) {
        return Float.intBitsToFloat((int) Math.floor(key / TOKEN_RANGE));
    }

    private static int token(double key) {
        double bits = Math.floor(key / TOKEN_RANGE);
        return (int) (TOKEN_RANGE - 1 - (key - bits * TOKEN_RANGE));
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
