package llama2.jvm;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;

/** Shards meet, whether they find each other spinning or asleep, and a broken barrier holds no one. */
class ShardBarrierTest {

    /** Each party writes its slot, meets the others, and reads every slot of the same round. */
    private static void meetRounds(int parties, long spinNanos, int rounds) throws Exception {
        ShardBarrier barrier = new ShardBarrier(parties, spinNanos);
        int[] slots = new int[parties];
        AtomicReference<Throwable> failure = new AtomicReference<>();
        List<Thread> threads = new ArrayList<>();
        for (int p = 0; p < parties; p++) {
            int me = p;
            Thread thread = new Thread(() -> {
                try {
                    for (int round = 1; round <= rounds; round++) {
                        slots[me] = round;
                        barrier.await();
                        for (int other = 0; other < parties; other++) {
                            if (slots[other] != round) {
                                throw new AssertionError("party " + me + " read round " + slots[other]
                                        + " of party " + other + " in round " + round);
                            }
                        }
                        barrier.await(); // nobody writes the next round before all have read this one
                    }
                } catch (Throwable e) {
                    failure.compareAndSet(null, e);
                    barrier.breakUp();
                }
            });
            threads.add(thread);
            thread.start();
        }
        for (Thread thread : threads) {
            thread.join();
        }
        if (failure.get() != null) {
            throw new AssertionError(failure.get());
        }
    }

    @Test
    void partiesMeetWhileSpinning() throws Exception {
        assertTimeoutPreemptively(Duration.ofSeconds(60), () -> meetRounds(2, ThreadedShards.SPIN_NANOS, 2_000));
    }

    @Test
    void partiesMeetAsleep() throws Exception {
        assertTimeoutPreemptively(Duration.ofSeconds(60), () -> meetRounds(3, 0, 2_000)); // every wait sleeps
    }

    @Test
    void morePartiesThanCoresMeet() throws Exception {
        assertTimeoutPreemptively(Duration.ofSeconds(60), () -> meetRounds(5, ThreadedShards.SPIN_NANOS, 200));
    }

    @Test
    void oneParty() throws Exception {
        ShardBarrier alone = new ShardBarrier(1, ThreadedShards.SPIN_NANOS);
        assertTimeoutPreemptively(Duration.ofSeconds(5), () -> {
            alone.await();
            alone.await();
        });
    }

    @Test
    void breakingUpWakesASleeperAndEveryLaterWait() throws Exception {
        ShardBarrier barrier = new ShardBarrier(2, 0);
        AtomicReference<Throwable> ended = new AtomicReference<>();
        Thread waiter = new Thread(() -> {
            try {
                barrier.await();
                ended.set(new AssertionError("the wait ended without the other party"));
            } catch (Throwable e) {
                ended.set(e);
            }
        });
        waiter.start();
        Thread.sleep(100); // asleep by now
        barrier.breakUp();
        waiter.join(10_000);
        assertEquals(ShardBarrier.Broken.class, ended.get() == null ? null : ended.get().getClass());
        assertTimeoutPreemptively(Duration.ofSeconds(5), () -> assertThrows(ShardBarrier.Broken.class, barrier::await));
    }

    @Test
    void anInterruptEndsASleepingWait() throws Exception {
        ShardBarrier barrier = new ShardBarrier(2, ThreadedShards.SPIN_NANOS);
        AtomicReference<Throwable> ended = new AtomicReference<>();
        Thread waiter = new Thread(() -> {
            try {
                barrier.await();
            } catch (Throwable e) {
                ended.set(e);
            }
        });
        waiter.start();
        Thread.sleep(100);
        waiter.interrupt();
        waiter.join(10_000);
        assertEquals(InterruptedException.class, ended.get() == null ? null : ended.get().getClass());
    }
}
