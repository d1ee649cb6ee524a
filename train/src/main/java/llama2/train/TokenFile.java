package llama2.train;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import llama2.engine.BadInputException;
import llama2.engine.Tokenizer;

/**
 * A text tokenized once: every story encoded with BOS in front (as llama2.c's pretokenizer does)
 * and all of them concatenated. Stored compactly: a 12-byte header (magic "L2TK", vocabulary
 * size, token count) then one little-endian uint16 per token (int32 when the vocabulary is
 * larger than 65536).
 */
public record TokenFile(int vocabSize, int[] tokens) {
    private static final int MAGIC = 0x4b54324c; // "L2TK" read as a little-endian int
    /** The line that ends each story in the text files. */
    public static final String STORY_END = "<|endoftext|>";

    /** Splits a text into stories at lines holding only {@code <|endoftext|>}; trims each. */
    public static List<String> stories(String text) {
        List<String> stories = new ArrayList<>();
        StringBuilder current = new StringBuilder();
        for (String line : text.split("\n", -1)) {
            if (line.strip().equals(STORY_END)) {
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

    public static String readText(Path path) {
        try {
            return new String(Files.readAllBytes(path), StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new BadInputException(path + ": cannot read (" + e.getMessage() + ")");
        }
    }

    /** Encodes every story with BOS, on all cores, keeping the stories' order. */
    public static TokenFile encode(Tokenizer tokenizer, List<String> stories) {
        int[][] encoded = stories.parallelStream().map(s -> tokenizer.encode(s, true, false)).toArray(int[][]::new);
        int total = 0;
        for (int[] e : encoded) {
            total += e.length;
        }
        int[] tokens = new int[total];
        int at = 0;
        for (int[] e : encoded) {
            System.arraycopy(e, 0, tokens, at, e.length);
            at += e.length;
        }
        return new TokenFile(tokenizer.vocabSize(), tokens);
    }

    public void write(Path path) throws IOException {
        int width = vocabSize <= 65536 ? 2 : 4;
        ByteBuffer buffer = ByteBuffer.allocate(12 + tokens.length * width).order(ByteOrder.LITTLE_ENDIAN);
        buffer.putInt(MAGIC).putInt(vocabSize).putInt(tokens.length);
        for (int t : tokens) {
            if (width == 2) {
                buffer.putShort((short) t);
            } else {
                buffer.putInt(t);
            }
        }
        Files.write(path, buffer.array());
    }

    public static TokenFile read(Path path) {
        byte[] bytes;
        try {
            bytes = Files.readAllBytes(path);
        } catch (IOException e) {
            throw new BadInputException(path + ": cannot read (" + e.getMessage() + ")");
        }
        ByteBuffer buffer = ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN);
        if (bytes.length < 12 || buffer.getInt() != MAGIC) {
            throw new BadInputException(path + ": not a token file (made by the 'prepare' command)");
        }
        int vocab = buffer.getInt(), count = buffer.getInt();
        int width = vocab <= 65536 ? 2 : 4;
        if (vocab <= 0 || count < 0 || bytes.length != 12L + (long) count * width) {
            throw new BadInputException(path + ": token file is damaged: its size does not match its header");
        }
        int[] tokens = new int[count];
        for (int i = 0; i < count; i++) {
            tokens[i] = width == 2 ? Short.toUnsignedInt(buffer.getShort()) : buffer.getInt();
            if (tokens[i] >= vocab) {
                throw new BadInputException(path + ": token " + tokens[i] + " at " + i + " is outside the vocabulary of " + vocab);
            }
        }
        return new TokenFile(vocab, tokens);
    }
}
