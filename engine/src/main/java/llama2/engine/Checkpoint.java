package llama2.engine;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.ByteBuffer;

/**
 * A llama2.c checkpoint file: its format version, its Q8_0 group size (version 2 only, else 0)
 * and the weights it holds. Reads and writes the three versions of SPEC.md:
 * <ul>
 *   <li>0: 28-byte header, float32 tensors in the legacy order, two unused RoPE tables;</li>
 *   <li>1: 256-byte header with magic and version, float32 tensors, norms first;</li>
 *   <li>2: like 1 with a group size, norms in float32, every matrix in Q8_0.</li>
 * </ul>
 */
public record Checkpoint(int version, int groupSize, Weights weights) {

    static final int MAGIC = 0x616b3432; // "ak42" read as a little-endian int
    static final int HEADER_BYTES = 256;
    static final int LEGACY_HEADER_BYTES = 28;

    public Config config() {
        return weights.config();
    }

    /** The format in words, as {@code info} and the page show it: "version 2 (Q8_0, group size 64)". */
    public String formatName() {
        return switch (version) {
            case 0 -> "version 0 (llama2.c legacy, float32)";
            case 1 -> "version 1 (float32)";
            default -> "version 2 (Q8_0, group size " + groupSize + ")";
        };
    }

    /** Reads a checkpoint; the buffer is not kept (every tensor is copied into an array). */
    public static Checkpoint read(ByteBuffer file) {
        return read(file, "checkpoint");
    }

    /** As {@link #read(ByteBuffer)}, with {@code source} (a file name) naming it in errors. */
    public static Checkpoint read(ByteBuffer file, String source) {
        CheckpointLoader loader = new CheckpointLoader(file.remaining(), source, false);
        loader.accept(file);
        return loader.finish();
    }

    /** What a header says: format, Q8_0 group size, shape, and where the tensors start. */
    record Header(int version, int groupSize, Config config, int tensorsStart) {}

    /**
     * Reads the header from the first {@code min(256, size)} bytes of a file of {@code size} bytes
     * and checks that size against it.
     */
    static Header readHeader(ByteBuffer start, long size, String source) {
        LittleEndianReader in = new LittleEndianReader(start, source);
        if (size < LEGACY_HEADER_BYTES) {
            throw new BadInputException(source + ": " + size + " bytes is too short for a checkpoint header");
        }
        int first = in.readInt("magic");
        if (first != MAGIC) {
            in.seek(0);
            return readLegacyHeader(in, size, source);
        }
        int version = in.readInt("version");
        if (version != 1 && version != 2) {
            throw new BadInputException(source + ": unknown checkpoint version " + version + " (expected 1 or 2)");
        }
        Config config = readConfig(in, source, true);
        int groupSize = version == 2 ? in.readInt("group_size") : 0;
        if (version == 2) {
            checkGroupSize(config, groupSize, source);
        }
        expectSize(size, source, version, groupSize, config);
        return new Header(version, groupSize, config, HEADER_BYTES);
    }

    /**
     * A version 0 file has no magic number, so any file without one is read as version 0; when
     * that header makes no sense, the message says both things.
     */
    private static Header readLegacyHeader(LittleEndianReader in, long size, String source) {
        Config config;
        try {
            config = readConfig(in, source, false);
        } catch (BadInputException e) {
            String detail = e.getMessage().substring(source.length() + 2);
            in.seek(0);
            throw new BadInputException(source + ": not a llama2.c checkpoint: no magic 0x" + Integer.toHexString(MAGIC)
                    + " (found 0x" + Integer.toHexString(in.readInt("magic")) + "), and as a version 0 header: " + detail);
        }
        expectSize(size, source, 0, 0, config);
        return new Header(0, 0, config, LEGACY_HEADER_BYTES);
    }

    /**
     * The seven header ints, then (versioned files) the shared-classifier byte. In a version 0
     * file a negative vocab_size says the classifier is not shared.
     */
    private static Config readConfig(LittleEndianReader in, String source, boolean versioned) {
        int dim = in.readInt("dim");
        int hiddenDim = in.readInt("hidden_dim");
        int nLayers = in.readInt("n_layers");
        int nHeads = in.readInt("n_heads");
        int nKvHeads = in.readInt("n_kv_heads");
        int vocabSize = in.readInt("vocab_size");
        int seqLen = in.readInt("seq_len");
        boolean shared;
        if (versioned) {
            byte flag = in.readByte("shared_classifier");
            if (flag != 0 && flag != 1) {
                throw new BadInputException(source + ": shared_classifier must be 0 or 1, found " + flag);
            }
            shared = flag == 1;
        } else {
            shared = vocabSize > 0;
            vocabSize = vocabSize == Integer.MIN_VALUE ? 0 : Math.abs(vocabSize);
        }
        return new Config(dim, hiddenDim, nLayers, nHeads, nKvHeads, vocabSize, seqLen, shared).validate(source);
    }

    /** A group size must divide every row the Q8_0 matmul quantizes: dim and hidden_dim. */
    static void checkGroupSize(Config config, int groupSize, String source) {
        if (groupSize <= 0) {
            throw new BadInputException(source + ": group_size must be positive, found " + groupSize);
        }
        if (config.dim() % groupSize != 0 || config.hiddenDim() % groupSize != 0) {
            throw new BadInputException(source + ": group_size " + groupSize + " does not divide both dim "
                    + config.dim() + " and hidden_dim " + config.hiddenDim());
        }
    }

    /** The largest power of two up to 64 (runq.c's default) that divides dim and hidden_dim. */
    public static int defaultGroupSize(Config config) {
        int gs = 64;
        while (config.dim() % gs != 0 || config.hiddenDim() % gs != 0) {
            gs /= 2;
        }
        return gs;
    }

    private static void expectSize(long size, String source, int version, int groupSize, Config config) {
        long expected = fileSize(config, version, groupSize);
        if (size != expected) {
            throw new BadInputException(source + ": size " + size + " bytes does not match the header (version "
                    + version + ", dim " + config.dim() + ", hidden_dim " + config.hiddenDim() + ", n_layers "
                    + config.nLayers() + ", vocab_size " + config.vocabSize() + "): expected " + expected + " bytes");
        }
    }

    /** The exact size in bytes of a checkpoint of this shape and format. */
    public static long fileSize(Config c, int version, int groupSize) {
        long d = c.dim(), h = c.hiddenDim(), layers = c.nLayers(), kv = c.kvDim(), v = c.vocabSize();
        long norms = layers * d * 2 + d;
        long[] matrices = {v * d, layers * d * d, layers * kv * d, layers * kv * d, layers * d * d,
                layers * h * d, layers * d * h, layers * h * d, c.sharedClassifier() ? 0 : v * d};
        long matrixBytes = 0;
        for (long n : matrices) {
            matrixBytes += version == 2 ? n + 4 * (n / groupSize) : 4 * n;
        }
        if (version == 0) {
            long ropeTables = 2L * c.seqLen() * (c.headSize() / 2);
            return LEGACY_HEADER_BYTES + 4 * (norms + ropeTables) + matrixBytes;
        }
        return HEADER_BYTES + 4 * norms + matrixBytes;
    }

    /**
     * Writes {@code weights} in format {@code version} (0, 1 or 2); for version 2, float
     * matrices are quantized in groups of {@code groupSize} as llama2.c's exporter does.
     */
    public static void write(Weights weights, int version, int groupSize, OutputStream out) throws IOException {
        new CheckpointWriter(weights, out).write(version, groupSize);
    }
}
