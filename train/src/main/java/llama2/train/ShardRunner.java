package llama2.train;

import java.util.function.IntToDoubleFunction;

/**
 * How the trainer runs a task once per shard: {@link #SERIAL}, one shard after the other on the
 * calling thread (the browser's worker, which has no threads), or {@link Shards}, on the JVM's
 * threads. Either way the results come back in shard order, so what the trainer sums from them
 * is summed in the same order, and the arithmetic depends on the number of shards only.
 */
public interface ShardRunner extends AutoCloseable {
    /** Runs {@code task(shard)} for every shard and returns the results in shard order. */
    double[] run(IntToDoubleFunction task);

    @Override
    void close();

    /** {@code count} shards, one after another on the calling thread. */
    static ShardRunner serial(int count) {
        return new ShardRunner() {
            @Override
            public double[] run(IntToDoubleFunction task) {
                double[] results = new double[count];
                for (int s = 0; s < count; s++) {
                    results[s] = task.applyAsDouble(s);
                }
                return results;
            }

            @Override
            public void close() {
            }
        };
    }
}
