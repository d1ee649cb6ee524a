package llama2.jvm;

/**
 * Where the shards of a model meet after each sharded step: {@link #await} returns once every
 * party arrived. A waiting thread first spins for at most {@code spinNanos} (the other shards are
 * usually a few microseconds away, and waking a parked thread costs 10-100 µs on a virtual
 * machine, more than many steps take), then blocks: a shard that waits longer sleeps and leaves
 * its core to others.
 *
 * <p>{@link #breakUp} ends every wait, now and later, with {@link Broken}: a shard that stopped
 * must not leave the others waiting for it.
 */
final class ShardBarrier {
    /** Raised by {@link #await} once the barrier was broken up. */
    static final class Broken extends Exception {
        Broken() {
            super("the barrier was broken up", null, false, false);
        }
    }

    private final int parties;
    private final long spinNanos;
    private final Object sleep = new Object();
    // Written under no lock: the last to arrive sees every other arrival in the count, and the
    // waiters see the next generation (volatile writes and reads, one total order).
    private final java.util.concurrent.atomic.AtomicInteger arrived = new java.util.concurrent.atomic.AtomicInteger();
    private volatile int generation;
    private volatile int sleepers;
    private volatile boolean broken;

    ShardBarrier(int parties, long spinNanos) {
        if (parties < 1) {
            throw new IllegalArgumentException("parties must be at least 1, found " + parties);
        }
        this.parties = parties;
        this.spinNanos = spinNanos;
    }

    /** Waits until every party arrived: spins a moment, then sleeps. */
    void await() throws Broken, InterruptedException {
        int mine = generation;
        if (broken) {
            throw new Broken();
        }
        if (arrived.incrementAndGet() == parties) { // the last: release the others
            arrived.set(0);
            generation = mine + 1;
            wakeSleepers();
            return;
        }
        long start = System.nanoTime();
        while (generation == mine) {
            if (broken) {
                throw new Broken();
            }
            if (System.nanoTime() - start > spinNanos) {
                sleepUntilNext(mine);
                break;
            }
            Thread.onSpinWait();
        }
    }

    /** Ends every wait, now and later, with {@link Broken}. */
    void breakUp() {
        broken = true;
        synchronized (sleep) {
            sleep.notifyAll();
        }
    }

    private void sleepUntilNext(int mine) throws Broken, InterruptedException {
        synchronized (sleep) {
            sleepers++; // before reading the generation, so the last to arrive either sees us or we see it moved on
            try {
                while (generation == mine) {
                    if (broken) {
                        throw new Broken();
                    }
                    sleep.wait();
                }
            } finally {
                sleepers--;
            }
        }
    }

    private void wakeSleepers() {
        if (sleepers > 0) {
            synchronized (sleep) {
                sleep.notifyAll();
            }
        }
    }
}
