package llama2.engine;

/**
 * run.c's random number generator, xorshift64*: its whole state is one {@code long}, so a seed
 * reproduces a story and a saved state resumes a sequence exactly. The sampler's coins and the
 * trainer's randomness both come from here.
 */
public final class Xorshift {
    private long state;

    /** Starts at {@code seed} as run.c does (a zero state stays zero). */
    public Xorshift(long seed) {
        this.state = seed;
    }

    public long state() {
        return state;
    }

    public void setState(long state) {
        this.state = state;
    }

    /** The next 64 bits. */
    public long nextLong() {
        state ^= state >>> 12;
        state ^= state << 25;
        state ^= state >>> 27;
        return state * 0x2545F4914F6CDD1DL;
    }

    /** run.c's {@code random_f32}: a float in [0, 1) from the top 24 bits. */
    public float nextFloat() {
        return ((int) (nextLong() >>> 32) >>> 8) / 16777216.0f;
    }
}
