package llama2.train;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.Set;

import llama2.engine.BadInputException;
import llama2.engine.Tokenizer;
import llama2.io.SafeFiles;

/** The {@code tokenizer} and {@code prepare} subcommands: from text to pieces and token files. */
final class TextCommands {
    private TextCommands() {}

    static final String TOKENIZER_HELP = """
            usage: tokenizer --text train.txt --vocab N --out tokenizer.bin
            Learns a byte-fallback BPE vocabulary of N pieces (N >= 259: ids 0-2 special,
            3-258 the bytes, then merges and characters), deterministic for a given text.
            Double-encoded UTF-8 in the text ("â€œ" for a curly quote) is repaired first.
            N = 259 is the bare byte table: every character is spelled in bytes (the engine
            spells the leading space as a byte too; run.c needs the piece " ", N >= 260).
            """;

    static void tokenizer(String[] argv, PrintStream out) throws IOException {
        Args a = new Args("tokenizer", argv, Set.of("--text", "--vocab", "--out"), Set.of());
        int vocab = a.integer("--vocab", 0);
        if (vocab < BpeTrainer.FIRST_LEARNED) {
            throw new BadInputException("tokenizer: --vocab must be at least 259 (3 special and 256 byte pieces), got " + vocab);
        }
        Path text = a.file("--text");
        Path target = a.output("--out", text);
        List<String> stories = repaired(text, out);
        long start = System.nanoTime();
        BpeTrainer.Result result = BpeTrainer.train(stories, vocab);
        SafeFiles.write(target, stream -> result.tokenizer().write(stream));
        out.printf(Locale.ROOT, "wrote %s: %d pieces (%d merges, %d characters) from %d stories in %.1f s%n",
                target, vocab, result.merges(), result.characters(), stories.size(), (System.nanoTime() - start) / 1e9);
    }

    /** The stories of a text file with double-encoded UTF-8 repaired (see {@link Mojibake}), saying how many. */
    static List<String> repaired(Path text, PrintStream out) {
        Mojibake.Repaired r = Mojibake.repair(storiesOf(text));
        out.printf(Locale.ROOT, "%s: repaired double-encoded UTF-8 (mojibake) in %d of %d stories%n", text, r.fixed(),
                r.stories().size());
        return r.stories();
    }

    /** A tokenizer file on its own does not say how many pieces it holds: count them. */
    static Tokenizer readTokenizer(Path path) {
        ByteBuffer buffer = SafeFiles.map(path).order(ByteOrder.LITTLE_ENDIAN);
        int count = 0;
        if (buffer.remaining() < 4) {
            throw new BadInputException(path + ": too short for a tokenizer file");
        }
        buffer.position(4);
        while (buffer.remaining() >= 8) {
            buffer.getFloat();
            int length = buffer.getInt();
            if (length < 0 || length > buffer.remaining()) {
                throw new BadInputException(path + ": damaged tokenizer file (piece " + count + " overruns the file)");
            }
            buffer.position(buffer.position() + length);
            count++;
        }
        if (buffer.hasRemaining()) {
            throw new BadInputException(path + ": damaged tokenizer file (trailing bytes)");
        }
        if (count < BpeTrainer.FIRST_LEARNED) {
            throw new BadInputException(path + ": holds " + count + " pieces, fewer than the 259 (3 special and 256 byte"
                    + " pieces) every text needs for its byte fallback");
        }
        return WeightsBridge.readTokenizer(path, count);
    }

    // ------------------------------------------------------------------------------ prepare

    static final String PREPARE_HELP = """
            usage: prepare --text FILE --tokenizer tokenizer.bin --out FILE.tok [--valid-out FILE.tok [--seq-len N]]
            Encodes every story with BOS in front (as the engine does: dummy-prefix space, merges
            by score) and writes all of them, concatenated, as a compact token file.
            Double-encoded UTF-8 in the text ("â€œ" for a curly quote) is repaired first.
            --valid-out holds the last tenth of the stories out of --out and writes them there
            (more stories if a tenth is shorter than one window of --seq-len (256) + 1 tokens;
            none if the rest could not fill a window): the page's Train view does the same.
            """;

    static void prepare(String[] argv, PrintStream out) throws IOException {
        Args a = new Args("prepare", argv, Set.of("--text", "--tokenizer", "--out", "--valid-out", "--seq-len"), Set.of());
        Path text = a.file("--text"), tokenizerFile = a.file("--tokenizer");
        Path target = a.output("--out", text, tokenizerFile);
        Path validTarget = a.has("--valid-out") ? a.output("--valid-out", text, tokenizerFile, target) : null;
        if (a.has("--seq-len") && validTarget == null) {
            throw new BadInputException("prepare: --seq-len sizes the --valid-out part; give --valid-out too");
        }
        int seqLen = a.integer("--seq-len", 256);
        if (seqLen < 1) {
            throw new BadInputException("prepare: --seq-len must be at least 1, got " + seqLen);
        }
        Tokenizer tokenizer = readTokenizer(tokenizerFile);
        List<String> stories = repaired(text, out);
        long start = System.nanoTime();
        int[][] encoded = TokenFile.encodeEach(tokenizer, stories);
        int n = encoded.length, held = 0;
        if (validTarget != null) {
            int[] lengths = new int[n];
            for (int s = 0; s < n; s++) {
                lengths[s] = encoded[s].length;
            }
            held = TokenFile.heldOutStories(lengths, seqLen);
        }
        TokenFile tokens = TokenFile.of(tokenizer, encoded, 0, n - held);
        tokens.write(target);
        long bytes = stories.subList(0, n - held).stream().mapToLong(s -> s.getBytes(StandardCharsets.UTF_8).length).sum();
        out.printf(Locale.ROOT, "wrote %s: %d stories, %d tokens (%.2f bytes per token) in %.1f s, tokenizer %016x%n",
                target, n - held, tokens.tokens().length, (double) bytes / Math.max(1, tokens.tokens().length),
                (System.nanoTime() - start) / 1e9, tokens.tokenizerId());
        if (validTarget != null) {
            TokenFile valid = TokenFile.of(tokenizer, encoded, n - held, n);
            valid.write(validTarget);
            out.printf(Locale.ROOT, held == 0 ? "wrote %s: empty: the text is too short to hold stories out for"
                            + " validation with windows of %d tokens%n" : "wrote %s: the last %d stories, %d tokens%n",
                    validTarget, held == 0 ? seqLen : held, valid.tokens().length);
        }
    }

    /** The stories of a text file, at least one. */
    static List<String> storiesOf(Path text) {
        List<String> stories = TokenFile.readStories(text);
        if (stories.isEmpty()) {
            throw new BadInputException(text + ": holds no stories (the file is empty or only separators)");
        }
        return stories;
    }

}
