package llama2.engine;

/**
 * Turns the byte pieces of generated tokens into text as they arrive.
 *
 * <p>A character the tokenizer had no piece for comes out as several byte tokens, one UTF-8
 * byte each; run.c prints none of them. This joins them back into the character, and holds an
 * incomplete character back until its last byte arrives. Bytes that can form no character
 * become U+FFFD. Like run.c, a piece that is a single control byte (other than whitespace) is
 * dropped, so a model cannot write terminal escape codes.
 */
public final class Utf8Stream {
    private static final char REPLACEMENT = '\uFFFD';

    private final byte[] pending = new byte[4];
    private int pendingCount;
    private int expected;

    /** The text completed by this piece (possibly empty). */
    public String append(byte[] piece) {
        StringBuilder out = new StringBuilder();
        if (piece.length == 1 && isUnprintableControl(piece[0])) {
            return "";
        }
        for (byte b : piece) {
            accept(b & 0xFF, out);
        }
        return out.toString();
    }

    /** Ends the stream: an unfinished character becomes U+FFFD. */
    public String flush() {
        if (pendingCount == 0) {
            return "";
        }
        pendingCount = 0;
        return String.valueOf(REPLACEMENT);
    }

    private void accept(int b, StringBuilder out) {
        if (pendingCount > 0) {
            if ((b & 0xC0) == 0x80) {
                pending[pendingCount++] = (byte) b;
                if (pendingCount == expected) {
                    emitPending(out);
                }
                return;
            }
            pendingCount = 0; // the character was cut short; b starts afresh
            out.append(REPLACEMENT);
        }
        if (b < 0x80) {
            out.append((char) b);
        } else if (b >= 0xC2 && b <= 0xF4) {
            expected = b < 0xE0 ? 2 : b < 0xF0 ? 3 : 4;
            pending[0] = (byte) b;
            pendingCount = 1;
        } else {
            out.append(REPLACEMENT);
        }
    }

    private void emitPending(StringBuilder out) {
        int cp = pending[0] & (0xFF >> (expected + 1));
        for (int i = 1; i < expected; i++) {
            cp = (cp << 6) | (pending[i] & 0x3F);
        }
        pendingCount = 0;
        int smallest = expected == 2 ? 0x80 : expected == 3 ? 0x800 : 0x10000;
        boolean valid = cp >= smallest && cp <= 0x10FFFF && (cp < 0xD800 || cp > 0xDFFF);
        if (valid) {
            out.appendCodePoint(cp);
        } else {
            out.append(REPLACEMENT);
        }
    }

    /** run.c prints a one-byte piece only if it is printable or whitespace (C locale). */
    private static boolean isUnprintableControl(byte b) {
        int c = b & 0xFF;
        boolean whitespace = c == ' ' || (c >= '\t' && c <= '\r');
        return (c < 0x20 && !whitespace) || c == 0x7F;
    }
}
