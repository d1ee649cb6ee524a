package llama2.train;

import llama2.engine.Xorshift;

/**
 * The trainer's only source of randomness: the sampler's {@link Xorshift}, so that its whole
 * state is one long that a checkpoint can save and a resumed run can restore exactly.
 */
public final class Rng {
    private final Xorshift generator;

    public Rng(long seed) {
        // a zero state would stay zero forever
        this.generator = new Xorshift(seed == 0 ? 0x9E3779B97F4A7C15L : seed);
    }

    public long state() {
        return generator.state();
    }

    public void setState(long state) {
        generator.setState(state);
    }

    public long nextLong() {
        return generator.nextLong();
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
