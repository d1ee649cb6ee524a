package llama2.train;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.Arrays;

import org.junit.jupiter.api.Test;

class DropoutTest {

    static float[] masked(Dropout dropout, long seed, int kind, int layer, int length) {
        float[] a = new float[length];
        Arrays.fill(a, 1f);
        dropout.reseed(seed);
        dropout.apply(a, 0, length, kind, layer, 0);
        return a;
    }

    @Test
    void dropsTheRateAndScalesTheRestToKeepTheMean() {
        Dropout dropout = new Dropout(0.1f);
        float[] a = masked(dropout, 1, Dropout.ATTENTION, 2, 200_000);
        int zeros = 0;
        double sum = 0;
        for (float v : a) {
            if (v == 0f) {
                zeros++;
            } else {
                assertEquals(1f / 0.9f, v);
            }
            sum += v;
        }
        assertEquals(0.1, zeros / 200_000.0, 0.003);
        assertEquals(1.0, sum / a.length, 0.005);
    }

    @Test
    void masksArePureFunctionsOfSeedSiteAndIndex() {
        Dropout dropout = new Dropout(0.3f);
        float[] a = masked(dropout, Dropout.windowSeed(1337, 5, 2), Dropout.FFN_OUT, 1, 4096);
        assertArrayEquals(a, masked(new Dropout(0.3f), Dropout.windowSeed(1337, 5, 2), Dropout.FFN_OUT, 1, 4096));
        for (int i = 0; i < a.length; i += 97) {
            assertEquals(a[i], dropout.factor(Dropout.FFN_OUT, 1, i), "element " + i);
        }
        // an offset array sees the same mask for the same indices
        float[] b = new float[100];
        Arrays.fill(b, 1f);
        dropout.apply(b, 10, 50, Dropout.FFN_OUT, 1, 1000);
        assertArrayEquals(Arrays.copyOfRange(a, 1000, 1050), Arrays.copyOfRange(b, 10, 60));
        // other windows, steps, sites and layers draw other masks
        assertFalse(Arrays.equals(a, masked(dropout, Dropout.windowSeed(1337, 5, 3), Dropout.FFN_OUT, 1, 4096)));
        assertFalse(Arrays.equals(a, masked(dropout, Dropout.windowSeed(1337, 6, 2), Dropout.FFN_OUT, 1, 4096)));
        assertFalse(Arrays.equals(a, masked(dropout, Dropout.windowSeed(1337, 5, 2), Dropout.ATTENTION_OUT, 1, 4096)));
        assertFalse(Arrays.equals(a, masked(dropout, Dropout.windowSeed(1337, 5, 2), Dropout.FFN_OUT, 2, 4096)));
    }

    @Test
    void rateOutsideZeroToOneIsRefused() {
        assertThrows(IllegalArgumentException.class, () -> new Dropout(1f));
        assertThrows(IllegalArgumentException.class, () -> new Dropout(-0.1f));
        assertThrows(IllegalArgumentException.class, () -> new Dropout(Float.NaN));
    }
}
