package llama2.engine;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.Arrays;
import java.util.Comparator;
import java.util.Random;

import org.junit.jupiter.api.Test;

/**
 * The sampler against a plain transcription of run.c's sample() with glibc's qsort, which is a
 * stable merge sort: Java's object sort is stable too, so ties keep their id order in both.
 */
class SamplerTest {

    @Test
    void topPMatchesRunCsStableSortIncludingTies() {
        Random random = new Random(1);
        for (int round = 0; round < 300; round++) {
            int vocab = 2 + random.nextInt(400);
            float[] logits = new float[vocab];
            for (int i = 0; i < vocab; i++) {
                logits[i] = random.nextInt(6) * 0.5f; // few distinct values: many exact ties
            }
            float temperature = 0.5f + random.nextFloat();
            float topp = 0.05f + 0.9f * random.nextFloat();
            long seed = random.nextLong();
            Sampler sampler = new Sampler(vocab, temperature, topp, seed);
            Reference reference = new Reference(seed);
            for (int draw = 0; draw < 5; draw++) {
                int expected = reference.sampleTopP(logits.clone(), temperature, topp);
                assertEquals(expected, sampler.sample(logits.clone()), "round " + round + " draw " + draw);
            }
        }
    }

    @Test
    void greedyTakesTheFirstMaximum() {
        Sampler sampler = new Sampler(5, 0f, 0.9f, 1);
        assertEquals(1, sampler.sample(new float[] {0f, 3f, 1f, 3f, 2f}));
    }

    /** run.c's sampling, written as plainly as possible. */
    private static final class Reference {
        private long state;

        Reference(long seed) {
            state = seed;
        }

        int sampleTopP(float[] logits, float temperature, float topp) {
            int n = logits.length;
            for (int i = 0; i < n; i++) {
                logits[i] /= temperature;
            }
            Transformer.softmax(logits, n);
            float coin = (nextInt() >>> 8) / 16777216.0f;
            float cutoff = (1.0f - topp) / (n - 1);
            Integer[] kept = new Integer[n];
            int n0 = 0;
            for (int i = 0; i < n; i++) {
                if (logits[i] >= cutoff) {
                    kept[n0++] = i;
                }
            }
            if (n0 == 0) { // run.c reads kept[-1] here; the engine takes the likeliest token
                int best = 0;
                for (int i = 1; i < n; i++) {
                    best = logits[i] > logits[best] ? i : best;
                }
                return best;
            }
            Arrays.sort(kept, 0, n0, Comparator.comparingDouble((Integer i) -> -logits[i]));
            float cumulative = 0f;
            int last = n0 - 1;
            for (int i = 0; i < n0; i++) {
                cumulative += logits[kept[i]];
                if (cumulative > topp) {
                    last = i;
                    break;
                }
            }
            float r = coin * cumulative;
            float cdf = 0f;
            for (int i = 0; i <= last; i++) {
                cdf += logits[kept[i]];
                if (r < cdf) {
                    return kept[i];
                }
            }
            return kept[last];
        }

        private int nextInt() {
            state ^= state >>> 12;
            state ^= state << 25;
            state ^= state >>> 27;
            return (int) ((state * 0x2545F4914F6CDD1DL) >>> 32);
        }
    }
}
