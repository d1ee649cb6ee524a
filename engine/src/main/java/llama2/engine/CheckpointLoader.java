package llama2.engine;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * Reads a checkpoint from its bytes as they arrive, in chunks of any size: each tensor goes
 * straight into its own array, so the caller may drop each chunk once {@link #accept} returns
 * and the weights exist once, never beside a copy of the file. Optionally quantizes an fp32
 * model to Q8_0 on the way in, row by row, in the default group size
 * ({@link Checkpoint#defaultGroupSize}): the same weights that {@code llama2.jar quantize} writes
 * and reading that file gives, at a quarter of the memory, without ever holding the fp32 matrix.
 *
 * <pre>{@code
 * CheckpointLoader loader = new CheckpointLoader(fileSize, "model.bin", quantize);
 * for (each chunk as it arrives) loader.accept(ByteBuffer.wrap(chunk));   // then drop the chunk
 * Checkpoint checkpoint = loader.finish();
 * }</pre>
 */
public final class CheckpointLoader {
    private final long size;
    private final String source;
    private final boolean quantize;
    private final int shard;           // keep only this shard's rows of each matrix
    private final int shards;
    private boolean packed;            // Q8_0 matrices as PackedQuantizedMatrix
    private final ByteBuffer header;   // the first bytes, until the header is read
    private TensorReader tensors;
    private Checkpoint.Header parsed;
    private long received;

    /**
     * For a file of {@code size} bytes named {@code source} in messages; {@code quantize}: fp32
     * matrices become Q8_0 (a Q8_0 file stays as it is).
     */
    public CheckpointLoader(long size, String source, boolean quantize) {
        this(size, source, quantize, 0, 1);
    }

    /**
     * As above, keeping only the rows of shard {@code shard} of {@code shards} ({@link ShardRows})
     * of each matrix: the weights a {@code Transformer(weights, shard, shards, exchange)} needs, and
     * no more. One shard of one keeps everything.
     */
    public CheckpointLoader(long size, String source, boolean quantize, int shard, int shards) {
        if (shard < 0 || shard >= shards) {
            throw new IllegalArgumentException("shard " + shard + " of " + shards);
        }
        this.size = size;
        this.source = source;
        this.quantize = quantize;
        this.shard = shard;
        this.shards = shards;
        this.header = ByteBuffer.allocate((int) Math.min(size, Checkpoint.HEADER_BYTES)).order(ByteOrder.LITTLE_ENDIAN);
    }

    /**
     * Makes this loader store Q8_0 matrices (read from a Q8_0 file or quantized on load) as
     * {@link PackedQuantizedMatrix}, for 64-bit integer kernels (WebAssembly), filled row by row
     * as the bytes arrive: the same weights and results, and no second copy to repack. Call it
     * before the first {@link #accept}.
     */
    public CheckpointLoader packingQuantized() {
        if (received > 0) {
            throw new IllegalStateException("packingQuantized() after the first bytes");
        }
        packed = true;
        return this;
    }

    /**
     * The shape a file's header states, read from its first bytes ({@code min(256, size)} of them,
     * or more) and checked against its size: what a launcher needs to know before it loads.
     */
    public static Config config(ByteBuffer start, long size, String source) {
        return Checkpoint.readHeader(start.order(ByteOrder.LITTLE_ENDIAN), size, source).config();
    }

    /** Takes all of {@code chunk}, the file's next bytes. */
    public void accept(ByteBuffer chunk) {
        received += chunk.remaining();
        if (received > size) {
            throw new BadInputException(source + ": more than the announced " + size + " bytes");
        }
        if (tensors == null) {
            int n = Math.min(header.remaining(), chunk.remaining());
            ByteBuffer part = chunk.slice();
            part.limit(n);
            header.put(part);
            chunk.position(chunk.position() + n);
            if (header.hasRemaining()) {
                return;
            }
            header.flip();
            parsed = Checkpoint.readHeader(header, size, source);
            int groupSize = quantize && parsed.groupSize() == 0 ? Checkpoint.defaultGroupSize(parsed.config()) : 0;
            tensors = new TensorReader(parsed.config(), parsed.version(), parsed.groupSize(), groupSize,
                    ShardRows.of(parsed.config(), shard, shards), packed);
            header.position(parsed.tensorsStart());
            tensors.accept(header);   // a legacy header is shorter than what was collected
        }
        tensors.accept(chunk);
    }

    /**
     * How many of the file's next bytes this loader would pass over unread (another shard's rows,
     * the legacy RoPE tables): a reader may jump over them with {@link #skip} instead of
     * reading them. 0 until the header arrived.
     */
    public long skippable() {
        return tensors == null ? 0 : tensors.skippable();
    }

    /** Jumps over the next {@code bytes} of the file, at most {@link #skippable} of them. */
    public void skip(long bytes) {
        if (bytes == 0) {
            return;
        }
        if (tensors == null) {
            throw new IllegalStateException("skip before the header");
        }
        tensors.skip(bytes);
        received += bytes;
    }

    /**
     * How many bytes this loader keeps after the {@link #skippable} ones, up to the next it could
     * skip or the file's end: what a reader that jumps over skippable bytes reads next in one go.
     * A shard of a model reads the header, then one run of bytes per matrix (its rows).
     */
    public long wanted() {
        return tensors == null ? header.remaining() : tensors.wanted();
    }

    /** True once the header shows an fp32 file that this loader turns into Q8_0. */
    public boolean quantizes() {
        return quantize && parsed != null && parsed.groupSize() == 0;
    }

    /** The checkpoint, once every byte arrived; as read from a Q8_0 file when quantized on load. */
    public Checkpoint finish() {
        if (received < size || tensors == null || !tensors.done()) {
            throw new BadInputException(source + ": truncated: " + received + " of " + size + " bytes arrived, "
                    + (tensors == null ? "the header" : tensors.current()) + " is incomplete");
        }
        if (quantizes()) {
            return new Checkpoint(2, Checkpoint.defaultGroupSize(parsed.config()), tensors.weights());
        }
        return new Checkpoint(parsed.version(), parsed.groupSize(), tensors.weights());
    }
}
