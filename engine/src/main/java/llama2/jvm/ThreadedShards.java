package llama2.jvm;

import llama2.engine.Exchange;
import llama2.engine.Transformer;
import llama2.engine.Weights;

/**
 * A model split into shards on platform threads: the caller's thread runs shard 0, the
 * {@link #transformer()}; each other shard runs on a daemon thread of its own and follows shard 0
 * step by step. Shards meet at a barrier after each sharded step ({@link ShardBarrier}): a waiting
 * shard spins for at most {@link #SPIN_NANOS}, then blocks, so a busy neighbour core is not burned
 * by a shard that waits long. {@link #close} ends the threads; a shard waiting for one that ended
 * learns it ({@code IllegalStateException}, "the shards were stopped") instead of waiting forever.
 */
public final class ThreadedShards implements AutoCloseable {
    /**
     * How long a shard spins before it sleeps. A step's shards reach the barrier within a few
     * microseconds of each other; waking a parked thread on a 2-core virtual machine costs about as
     * much as a small step (tens of microseconds: 34 barriers per token on the 42M shape left each
     * of 2 shards waiting 3.6-3.9 ms of a 10 ms token; spinning first, under 1 ms). Measured with
     * a step's shards spinning as long as needed, 96% of the waits ended within 50 µs.
     */
    static final long SPIN_NANOS = 50_000;

    private final Transformer lead;
    private final Thread[] followers;
    private final ShardBarrier barrier;
    // Each exchange writes one staging vector and reads it back after the barrier; alternating
    // two means no shard overwrites a vector another may still be reading.
    private final float[][] staging;
    private volatile int token;
    private volatile int pos;

    /** Starts {@code shards - 1} threads (none for one shard), all sharing {@code weights}. */
    public ThreadedShards(Weights weights, int shards) {
        this(copies(weights, shards));
    }

    /**
     * One shard per entry, each computing with its own weights: the whole model or at least
     * that shard's rows (as a browser worker holds them: {@code CheckpointLoader} given the shard).
     */
    public ThreadedShards(Weights[] perShard) {
        int shards = perShard.length;
        if (shards < 1) {
            throw new IllegalArgumentException("shards must be at least 1, found " + shards);
        }
        var c = perShard[0].config();
        barrier = new ShardBarrier(shards, SPIN_NANOS);
        staging = new float[2][Math.max(c.vocabSize(), Math.max(c.dim(), c.hiddenDim()))];
        followers = new Thread[shards - 1];
        for (int s = 1; s < shards; s++) {
            Transformer follower = new Transformer(perShard[s], s, shards, new ShardExchange(false));
            Thread thread = new Thread(() -> follow(follower), "shard " + s);
            thread.setDaemon(true);
            thread.start();
            followers[s - 1] = thread;
        }
        lead = shards == 1 ? new Transformer(perShard[0])
                : new Transformer(perShard[0], 0, shards, new ShardExchange(true));
    }

    private static Weights[] copies(Weights weights, int shards) {
        if (shards < 1) {
            throw new IllegalArgumentException("shards must be at least 1, found " + shards);
        }
        Weights[] all = new Weights[shards];
        java.util.Arrays.fill(all, weights);
        return all;
    }

    /** Shard 0: call it from one thread; the other shards follow each of its forward passes. */
    public Transformer transformer() {
        return lead;
    }

    @Override
    public void close() {
        for (Thread thread : followers) {
            thread.interrupt();
        }
    }

    private void follow(Transformer follower) {
        try {
            while (true) {
                barrier.await(); // the lead's begin()
                follower.forward(token, pos);
            }
        } catch (InterruptedException | ShardBarrier.Broken | IllegalStateException e) {
            barrier.breakUp(); // whoever waits, now or later, learns that this shard is gone
        }
    }

    /** Waits for every shard; a shard that was closed, or whose partner was, learns it here. */
    private void await() {
        try {
            barrier.await();
        } catch (InterruptedException | ShardBarrier.Broken e) {
            barrier.breakUp();
            throw new IllegalStateException("the shards were stopped", e);
        }
    }

    private final class ShardExchange implements Exchange {
        private final boolean lead;
        private int parity;

        ShardExchange(boolean lead) {
            this.lead = lead;
        }

        @Override
        public void begin(int token, int pos) {
            if (lead) {
                ThreadedShards.this.token = token;
                ThreadedShards.this.pos = pos;
                await();
            }
        }

        @Override
        public void allGather(float[] v, int from, int to) {
            float[] shared = staging[parity];
            parity ^= 1;
            System.arraycopy(v, from, shared, from, to - from);
            await();
            System.arraycopy(shared, 0, v, 0, from); // the other shards' parts; this one's is in place
            System.arraycopy(shared, to, v, to, v.length - to);
        }
    }
}
