package llama2.engine;

/**
 * RoPE, the rotary position embedding, as run.c computes it: pair {@code p} of every head turns by
 * the angle {@code pos * freq[p]}, with {@code freq[p] = 1 / 10000^(2p / head_size)}, in float,
 * through glibc's {@code powf}, {@code cosf} and {@code sinf}. The one definition of these angles:
 * the engine, the trainer and the legacy file writer all take them from here.
 */
public final class Rope {
    private Rope() {
    }

    /** {@code freq[p]} for each of the {@code headSize / 2} pairs of a head. */
    public static float[] frequencies(int headSize) {
        float[] freq = new float[headSize / 2];
        for (int p = 0; p < freq.length; p++) {
            freq[p] = 1.0f / FloatMath.pow10000(2 * p / (float) headSize);
        }
        return freq;
    }

    /** The cosine and sine of each pair's angle at {@code pos}, into {@code [offset, offset + freq.length)}. */
    public static void angles(float[] freq, int pos, float[] cos, float[] sin, int offset) {
        for (int p = 0; p < freq.length; p++) {
            float val = pos * freq[p];
            cos[offset + p] = FloatMath.cos(val);
            sin[offset + p] = FloatMath.sin(val);
        }
    }
}
