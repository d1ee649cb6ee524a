package llama2.train;

/**
 * The trainer's only source of randomness: xorshift64* as in llama2.c's sampler, so that its
 * whole state is one long that a checkpoint can save and a resumed run can restore exactly.
 */
public final class Rng {
    private long state;

    public Rng(long seed) {
        // a zero state would stay zero forever
        this.state = seed == 0 ? 0x9E3779B97F4A7C15L : seed;
    }

    public long state() {
        return state;
    }

    public void setState(long state) {
        this.state = state;
    }

    public long nextLong() {
        state ^= state >>> 12;
        state ^= state << 25;
        state ^= state >>> 27;
        return state * 0x2545F4914F6CDD1DL;
    }

    /** Uniform in [0, bound). */
    public int nextInt(int bound) {
        return (int) Math.floorMod(nextLong() >>> 1, (long) bound);
    }

    /** Uniform in (0, 1]: never 0, so its logarithm is finite. */
    public double nextDouble() {
        return ((nextLong() >>> 11) + 1) * 0x1.0p-53;
    }

    /** Standard normal, Box-Muller (one of the pair is thrown away: simple, and it is only init). */
    public double nextGaussian() {
        double u = nextDouble(), v = nextDouble();
        return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
    }
}
