package llama2.engine;

import java.io.IOException;
import java.io.OutputStream;
import java.util.Arrays;
import java.util.HashMap;
import java.util.Map;
import java.util.PriorityQueue;

/**
 * llama2.c's byte-pair-encoding tokenizer: a vocabulary of byte strings ("pieces") with merge
 * scores. Ids 0, 1, 2 are {@code <unk>}, {@code <s>} (BOS) and {@code </s>} (EOS); ids 3..258
 * are the 256 single bytes, written {@code <0x00>}..{@code <0xFF>}, used when no piece fits.
 */
public final class Tokenizer {
    public static final int BOS = 1;
    public static final int EOS = 2;
    private static final int BYTE_OFFSET = 3;
    /** run.c starts its search for the best merge at this score, so lower scores never merge. */
    private static final float NO_MERGE = -1e10f;

    private final byte[][] pieces;
    private final float[] scores;
    private final int maxTokenLength;
    private final Map<String, Integer> idOfPiece = new HashMap<>();
    private final int spaceId;

    public Tokenizer(byte[][] pieces, float[] scores, int maxTokenLength) {
        this.pieces = pieces;
        this.scores = scores;
        this.maxTokenLength = maxTokenLength;
        for (int id = pieces.length - 1; id >= 0; id--) { // the first of duplicate pieces wins
            idOfPiece.put(key(pieces[id]), id);
        }
        // The dummy prefix is a space, spelled like any other character: as its piece, or (in a
        // vocabulary of bytes alone, where run.c would emit -1) by byte fallback.
        this.spaceId = idOfPiece.getOrDefault(" ", ' ' + BYTE_OFFSET);
    }

    /** Reads {@code tokenizer.bin}; the vocabulary size comes from the model's header. */
    public static Tokenizer read(java.nio.ByteBuffer file, int vocabSize, String source) {
        LittleEndianReader in = new LittleEndianReader(file, source);
        int maxTokenLength = in.readInt("max_token_length");
        if (maxTokenLength <= 0) {
            throw new BadInputException(source + ": max_token_length must be positive, found " + maxTokenLength);
        }
        byte[][] pieces = new byte[vocabSize][];
        float[] scores = new float[vocabSize];
        for (int id = 0; id < vocabSize; id++) {
            if (in.size() - in.position() < 8) {
                throw new BadInputException(source + ": holds only " + id + " tokens, the model needs " + vocabSize);
            }
            // Checked above, so these descriptions are never shown (and no string is built per token:
            // in a browser, 32,000 of them would be garbage the size of the vocabulary, many times over).
            scores[id] = in.readFloat("a token's score");
            int length = in.readInt("a token's length");
            long left = in.size() - in.position();
            if (length < 0 || length > left) {
                throw new BadInputException(source + ": token " + id + " has length " + length
                        + (length < 0 ? "" : ", more than the " + left + " bytes left in the file"));
            }
            pieces[id] = in.readBytes(length, "a token"); // also checked above
        }
        long extra = in.size() - in.position();
        if (extra > 0) {
            // More tokens than the model knows: the tokenizer of another model, which would decode garbage.
            throw new BadInputException(source + ": " + extra + " bytes left over after the model's " + vocabSize
                    + " tokens: this tokenizer belongs to a model with a larger vocabulary");
        }
        return new Tokenizer(pieces, scores, maxTokenLength);
    }

    public static Tokenizer read(java.nio.ByteBuffer file, int vocabSize) {
        return read(file, vocabSize, "tokenizer");
    }

    public int vocabSize() {
        return pieces.length;
    }

    public int maxTokenLength() {
        return maxTokenLength;
    }

    /** The raw bytes of a token's piece, as stored (a byte token reads {@code <0x41>}). */
    public byte[] piece(int id) {
        return pieces[id];
    }

    public float score(int id) {
        return scores[id];
    }

    /** Writes {@code tokenizer.bin} in llama2.c's format. */
    public void write(OutputStream stream) throws IOException {
        LittleEndianWriter out = new LittleEndianWriter(stream);
        out.writeInt(maxTokenLength);
        for (int id = 0; id < pieces.length; id++) {
            out.writeInt(Float.floatToRawIntBits(scores[id]));
            out.writeInt(pieces[id].length);
            out.writeBytes(pieces[id]);
        }
        out.flush();
    }

    // ----------------------------------------------------------------------------------------
    // encode: exactly run.c's algorithm, with a priority queue instead of its quadratic scan

    /**
     * Text to ids as run.c: BOS if asked; the "dummy prefix" piece {@code " "} before non-empty
     * text; one id per UTF-8 code point (or one per byte where the code point is no piece);
     * then merges: repeatedly the adjacent pair whose concatenation is the piece with the highest
     * score (leftmost on ties) becomes that piece; EOS if asked.
     */
    public int[] encode(String text, boolean bos, boolean eos) {
        byte[] utf8 = utf8(text);
        int[] initial = new int[utf8.length + 1];
        int n = 0;
        if (utf8.length > 0) {
            initial[n++] = spaceId;
        }
        n = splitCodePoints(utf8, initial, n);
        int[] merged = mergePairs(initial, n);
        int[] out = new int[merged.length + (bos ? 1 : 0) + (eos ? 1 : 0)];
        int k = 0;
        if (bos) {
            out[k++] = BOS;
        }
        System.arraycopy(merged, 0, out, k, merged.length);
        if (eos) {
            out[out.length - 1] = EOS;
        }
        return out;
    }

    /**
     * Step 1 of encoding: a lead byte and its continuation bytes (10xxxxxx, up to four bytes in
     * all) form one code point, looked up as a piece or else spelled out as byte tokens.
     */
    private int splitCodePoints(byte[] utf8, int[] ids, int n) {
        int start = 0;
        while (start < utf8.length) {
            int end = start + 1;
            while (end < utf8.length && end - start < 4 && (utf8[end] & 0xC0) == 0x80) {
                end++;
            }
            Integer id = idOfPiece.get(key(utf8, start, end));
            if (id != null) {
                ids[n++] = id;
            } else {
                for (int i = start; i < end; i++) {
                    ids[n++] = (utf8[i] & 0xFF) + BYTE_OFFSET;
                }
            }
            start = end;
        }
        return n;
    }

    /** A pair of neighbours that could merge into {@code merged}; stale once either changes. */
    private record Candidate(float score, int left, int right, int leftId, int rightId, int merged) {}

    private int[] mergePairs(int[] initial, int n) {
        int[] ids = new int[n];
        int[] next = new int[n];
        int[] prev = new int[n];
        for (int i = 0; i < n; i++) {
            ids[i] = initial[i];
            next[i] = i + 1 < n ? i + 1 : -1;
            prev[i] = i - 1;
        }
        // Highest score first; on equal scores the leftmost pair, which is what run.c's scan finds.
        PriorityQueue<Candidate> queue = new PriorityQueue<>((a, b) ->
                a.score != b.score ? Float.compare(b.score, a.score) : Integer.compare(a.left, b.left));
        for (int i = 0; i + 1 < n; i++) {
            offer(queue, ids, i, i + 1);
        }
        int alive = n;
        while (!queue.isEmpty()) {
            Candidate c = queue.poll();
            boolean stale = ids[c.left] != c.leftId || next[c.left] != c.right || ids[c.right] != c.rightId;
            if (stale) {
                continue;
            }
            ids[c.left] = c.merged;
            int after = next[c.right];
            next[c.left] = after;
            if (after >= 0) {
                prev[after] = c.left;
            }
            ids[c.right] = -1;
            alive--;
            if (prev[c.left] >= 0) {
                offer(queue, ids, prev[c.left], c.left);
            }
            if (after >= 0) {
                offer(queue, ids, c.left, after);
            }
        }
        int[] out = new int[alive];
        int k = 0;
        for (int i = 0; i >= 0 && k < alive; i = next[i]) {
            out[k++] = ids[i];
        }
        return out;
    }

    private void offer(PriorityQueue<Candidate> queue, int[] ids, int left, int right) {
        byte[] a = pieces[ids[left]];
        byte[] b = pieces[ids[right]];
        Integer merged = idOfPiece.get(key(a, b));
        if (merged != null && scores[merged] > NO_MERGE) {
            queue.add(new Candidate(scores[merged], left, right, ids[left], ids[right], merged));
        }
    }

    // ----------------------------------------------------------------------------------------
    // decode

    /**
     * The bytes {@code token} stands for when it follows {@code prev}: its piece, less the
     * leading space right after BOS; a byte token {@code <0xHH>} stands for that one byte.
     */
    public byte[] decode(int prev, int token) {
        byte[] piece = pieces[token];
        if (prev == BOS && piece.length > 0 && piece[0] == ' ') {
            byte[] rest = new byte[piece.length - 1];
            System.arraycopy(piece, 1, rest, 0, rest.length);
            return rest;
        }
        int raw = byteValue(piece);
        return raw >= 0 ? new byte[] {(byte) raw} : piece;
    }

    /** The value of a piece spelled {@code <0xHH>}, else -1. */
    private static int byteValue(byte[] piece) {
        if (piece.length != 6 || piece[0] != '<' || piece[1] != '0' || piece[2] != 'x' || piece[5] != '>') {
            return -1;
        }
        int high = Character.digit(piece[3], 16);
        int low = Character.digit(piece[4], 16);
        return high < 0 || low < 0 ? -1 : high * 16 + low;
    }

    // Pieces are arbitrary bytes; a string holding one char per byte is an exact map key.
    private static String key(byte[] bytes) {
        return key(bytes, 0, bytes.length);
    }

    private static String key(byte[] bytes, int from, int to) {
        char[] chars = new char[to - from];
        for (int i = from; i < to; i++) {
            chars[i - from] = (char) (bytes[i] & 0xFF);
        }
        return new String(chars);
    }

    private static String key(byte[] a, byte[] b) {
        char[] chars = new char[a.length + b.length];
        for (int i = 0; i < a.length; i++) {
            chars[i] = (char) (a[i] & 0xFF);
        }
        for (int i = 0; i < b.length; i++) {
            chars[a.length + i] = (char) (b[i] & 0xFF);
        }
        return new String(chars);
    }

    /**
     * {@code text.getBytes(UTF_8)} written out, an unpaired surrogate becoming {@code '?'} as
     * there: the JDK's version pulls a whole charset framework (~4 KB gzipped) into the page.
     */
    private static final int[] UTF8_LEAD = {0x00, 0xC0, 0xE0, 0xF0};

    static byte[] utf8(String text) {
        byte[] out = new byte[3 * text.length()];
        int n = 0;
        for (int i = 0; i < text.length(); i++) {
            int c = text.charAt(i);
            if (Character.isHighSurrogate((char) c) && i + 1 < text.length()
                    && Character.isLowSurrogate(text.charAt(i + 1))) {
                c = Character.toCodePoint((char) c, text.charAt(++i));
            } else if (Character.isSurrogate((char) c)) {
                c = '?';
            }
            int continuation = c < 0x80 ? 0 : c < 0x800 ? 1 : c < 0x10000 ? 2 : 3;
            out[n++] = (byte) (UTF8_LEAD[continuation] | c >> 6 * continuation);
            for (int k = continuation - 1; k >= 0; k--) {
                out[n++] = (byte) (0x80 | c >> 6 * k & 0x3F);
            }
        }
        return Arrays.copyOf(out, n);
    }
}
