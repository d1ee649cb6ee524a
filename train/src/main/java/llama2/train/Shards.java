package llama2.train;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.function.IntToDoubleFunction;

/**
 * The trainer's one way of using several cores: a task run once per shard on a fixed pool of
 * threads, its results returned in shard order (so whatever is summed from them is summed in
 * the same order on any machine).
 */
final class Shards implements ShardRunner {
    private final int count;
    private final ExecutorService pool;

    Shards(int count, int threads) {
        this.count = count;
        this.pool = Executors.newFixedThreadPool(Math.max(1, Math.min(threads, count)), r -> {
            Thread t = new Thread(r, "trainer");
            t.setDaemon(true);
            return t;
        });
    }

    int count() {
        return count;
    }

    @Override
    public double[] run(IntToDoubleFunction task) {
        List<Future<Double>> futures = new ArrayList<>();
        for (int s = 0; s < count; s++) {
            int shard = s;
            futures.add(pool.submit(() -> task.applyAsDouble(shard)));
        }
        double[] results = new double[count];
        try {
            for (int s = 0; s < count; s++) {
                results[s] = futures.get(s).get();
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted", e);
        } catch (ExecutionException e) {
            if (e.getCause() instanceof RuntimeException r) {
                throw r;
            }
            if (e.getCause() instanceof Error err) {
                throw err;
            }
            throw new IllegalStateException(e.getCause());
        }
        return results;
    }

    @Override
    public void close() {
        pool.shutdownNow();
    }
}
