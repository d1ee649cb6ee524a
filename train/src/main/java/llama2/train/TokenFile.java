package llama2.train;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.CharBuffer;
import java.nio.charset.CharsetDecoder;
import java.nio.charset.CoderResult;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;

import llama2.engine.BadInputException;
import llama2.engine.LittleEndianWriter;
import llama2.engine.Tokenizer;
import llama2.io.SafeFiles;

/**
 * A text tokenized once: every story encoded with BOS in front (as llama2.c's pretokenizer does)
 * and all of them concatenated. Stored compactly, little-endian: magic "L2TK", format 2, the
 * vocabulary size, the {@link #fingerprint} of the tokenizer that made it (so tokens of another
 * tokenizer are refused, not trained on), the token count, then one uint16 per token (int32 when
 * the vocabulary is larger than 65536).
 */
public record TokenFile(int vocabSize, long tokenizerId, int[] tokens) {
    private static final byte[] MAGIC = {'L', '2', 'T', 'K'};
    private static final int FORMAT = 2;
    /** Share of bytes that are not UTF-8 beyond which a text is refused as binary. */
    private static final double MAX_INVALID_SHARE = 0.001;
    /** The line that ends each story in the text files. */
    public static final String STORY_END = "<|endoftext|>";

    /**
     * Splits a text into stories at lines holding only {@code <|endoftext|>}; a text with no such
     * line is split at blank lines instead (one story per paragraph). Each story is trimmed.
     */
    public static List<String> stories(String text) {
        String[] lines = text.split("\n", -1);
        boolean marked = false;
        for (String line : lines) {
            marked |= line.strip().equals(STORY_END);
        }
        List<String> stories = new ArrayList<>();
        StringBuilder current = new StringBuilder();
        for (String line : lines) {
            if (marked ? line.strip().equals(STORY_END) : line.isBlank()) {
                add(stories, current);
                current.setLength(0);
            } else {
                current.append(line).append('\n');
            }
        }
        add(stories, current);
        return stories;
    }

    private static void add(List<String> stories, StringBuilder story) {
        String s = story.toString().strip();
        if (!s.isEmpty()) {
            stories.add(s);
        }
    }

    public static List<String> readStories(Path path) {
        return stories(readText(path));
    }

    /**
     * The file as text. A NUL byte, or more than 0.1% of bytes that are not UTF-8, mean it is no
     * text: refused. Fewer invalid bytes are replaced by U+FFFD, with a warning that counts them.
     */
    public static String readText(Path path) {
        byte[] bytes = SafeFiles.readAllBytes(path);
        for (int i = 0; i < bytes.length; i++) {
            if (bytes[i] == 0) {
                throw new BadInputException(path + ": a NUL byte at offset " + i + ": a binary file, not UTF-8 text");
            }
        }
        CharsetDecoder strict = StandardCharsets.UTF_8.newDecoder();
        ByteBuffer in = ByteBuffer.wrap(bytes);
        CharBuffer out = CharBuffer.allocate(bytes.length);
        long invalid = 0, first = -1;
        while (true) {
            CoderResult r = strict.decode(in, out, true);
            if (r.isUnderflow()) {
                break;
            }
            first = first < 0 ? in.position() : first;
            invalid += r.length();
            in.position(in.position() + r.length());
            out.put('\uFFFD');
        }
        if (invalid > MAX_INVALID_SHARE * bytes.length) {
            throw new BadInputException(String.format(Locale.ROOT, "%s: not UTF-8 text: %d of %d bytes (%.2f%%) are invalid, the first at offset %d",
                    path, invalid, bytes.length, 100.0 * invalid / bytes.length, first));
        }
        if (invalid > 0) {
            System.err.printf(Locale.ROOT, "warning: %s: %d invalid UTF-8 bytes (%.4f%%, the first at offset %d) read as U+FFFD%n",
                    path, invalid, 100.0 * invalid / bytes.length, first);
        }
        return out.flip().toString();
    }

    /**
     * Identifies a tokenizer by its pieces and scores: the first 8 bytes of the SHA-256 of its file
     * form. Plain Java ({@link Sha256}), so the browser's trainer writes the same fingerprint.
     */
    public static long fingerprint(Tokenizer tokenizer) {
        Sha256 sha = new Sha256();
        try {
            tokenizer.write(sha);
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
        return ByteBuffer.wrap(sha.digest()).getLong();
    }

    /** The share of the stories, at the end of a text, held out to measure the validation loss. */
    public static final int HELD_OUT_PERCENT = 10;

    /**
     * How many stories, at the end of a text, to hold out for validation (the browser's rule, and
     * {@code prepare --valid-out}'s): the last tenth (at least one), more while that is shorter
     * than one window of {@code seqLen} + 1 tokens; none when what is left could not train a
     * window ({@code seqLen} + 2 tokens) or there is only one story.
     *
     * @param lengths each story's tokens, in order
     */
    public static int heldOutStories(int[] lengths, int seqLen) {
        int n = lengths.length;
        long total = 0;
        for (int length : lengths) {
            total += length;
        }
        int held = (n * HELD_OUT_PERCENT + 99) / 100;
        long heldTokens = 0;
        for (int s = n - held; s < n; s++) {
            heldTokens += lengths[s];
        }
        while (heldTokens < seqLen + 1 && held < n - 1) {
            held++;
            heldTokens += lengths[n - held];
        }
        return n < 2 || heldTokens < seqLen + 1 || total - heldTokens < seqLen + 2 ? 0 : held;
    }

    /** Encodes every story with BOS, on all cores, keeping the stories' order. */
    public static TokenFile encode(Tokenizer tokenizer, List<String> stories) {
        int[][] encoded = encodeEach(tokenizer, stories);
        return of(tokenizer, encoded, 0, encoded.length);
    }

    /** Each story encoded with BOS, on all cores, in the stories' order. */
    public static int[][] encodeEach(Tokenizer tokenizer, List<String> stories) {
        return stories.parallelStream().map(s -> tokenizer.encode(s, true, false)).toArray(int[][]::new);
    }

    /** Stories {@code from} to {@code to} (exclusive) of {@code encoded}, concatenated. */
    public static TokenFile of(Tokenizer tokenizer, int[][] encoded, int from, int to) {
        return new TokenFile(tokenizer.vocabSize(), fingerprint(tokenizer), concatenate(encoded, from, to));
    }

    /** The tokens of stories {@code from} to {@code to} (exclusive) of {@code encoded}, one after another. */
    public static int[] concatenate(int[][] encoded, int from, int to) {
        int total = 0;
        for (int s = from; s < to; s++) {
            total += encoded[s].length;
        }
        int[] tokens = new int[total];
        int at = 0;
        for (int s = from; s < to; s++) {
            System.arraycopy(encoded[s], 0, tokens, at, encoded[s].length);
            at += encoded[s].length;
        }
        return tokens;
    }

    /** Writes the file atomically and durably. */
    public void write(Path path) {
        boolean wide = vocabSize > 65536;
        SafeFiles.write(path, stream -> {
            LittleEndianWriter out = new LittleEndianWriter(stream);
            out.writeBytes(MAGIC);
            out.writeInt(FORMAT);
            out.writeInt(vocabSize);
            out.writeLong(tokenizerId);
            out.writeInt(tokens.length);
            for (int t : tokens) {
                if (wide) {
                    out.writeInt(t);
                } else {
                    out.writeByte(t);
                    out.writeByte(t >>> 8);
                }
            }
            out.flush();
        });
    }

    public static TokenFile read(Path path) {
        byte[] bytes = SafeFiles.readAllBytes(path);
        ByteBuffer buffer = ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN);
        if (bytes.length < 24 || !Arrays.equals(bytes, 0, 4, MAGIC, 0, 4)) {
            throw new BadInputException(path + ": not a token file (made by the 'prepare' command)");
        }
        int format = buffer.position(4).getInt();
        if (format != FORMAT) {
            throw new BadInputException(path + ": token file from an older 'prepare' (it does not record its tokenizer);"
                    + " run prepare again");
        }
        int vocab = buffer.getInt();
        long tokenizerId = buffer.getLong();
        int count = buffer.getInt();
        int width = vocab > 65536 ? 4 : 2;
        if (vocab <= 0 || count < 0 || bytes.length != 24L + (long) count * width) {
            throw new BadInputException(path + ": token file is damaged: its size " + bytes.length
                    + " does not match its header (" + count + " tokens)");
        }
        int[] tokens = new int[count];
        for (int i = 0; i < count; i++) {
            tokens[i] = width == 2 ? Short.toUnsignedInt(buffer.getShort()) : buffer.getInt();
            if (tokens[i] >= vocab || tokens[i] < 0) {
                throw new BadInputException(path + ": token " + tokens[i] + " at " + i + " is outside the vocabulary of " + vocab);
            }
        }
        return new TokenFile(vocab, tokenizerId, tokens);
    }
}
