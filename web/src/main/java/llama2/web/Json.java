package llama2.web;

/**
 * Just enough JSON writing for the few flat objects the worker hands to JavaScript.
 *
 * <p>Hand-written because the browser build must stay small: a JSON library (or
 * {@code String.format}) would add hundreds of kilobytes to every page load.
 */
public final class Json {
    private final StringBuilder text = new StringBuilder("{");

    public Json put(String name, String value) {
        key(name);
        quote(value);
        return this;
    }

    public Json put(String name, long value) {
        key(name);
        text.append(value);
        return this;
    }

    /** A number; one that is not finite is written as null (JSON has no NaN). */
    public Json put(String name, double value) {
        key(name);
        text.append(Double.isFinite(value) ? Double.toString(value) : "null");
        return this;
    }

    public Json put(String name, boolean value) {
        key(name);
        text.append(value);
        return this;
    }

    public Json put(String name, int[] values) {
        key(name);
        text.append('[');
        for (int i = 0; i < values.length; i++) {
            if (i > 0) {
                text.append(',');
            }
            text.append(values[i]);
        }
        text.append(']');
        return this;
    }

    @Override
    public String toString() {
        return text + "}";
    }

    private void key(String name) {
        if (text.length() > 1) {
            text.append(',');
        }
        quote(name);
        text.append(':');
    }

    private void quote(String value) {
        text.append('"');
        for (int i = 0; i < value.length(); i++) {
            char c = value.charAt(i);
            switch (c) {
                case '"' -> text.append("\\\"");
                case '\\' -> text.append("\\\\");
                case '\n' -> text.append("\\n");
                case '\r' -> text.append("\\r");
                case '\t' -> text.append("\\t");
                default -> {
                    if (c < 0x20) {
                        String hex = Integer.toHexString(c);
                        text.append("\\u");
                        for (int pad = hex.length(); pad < 4; pad++) {
                            text.append('0');
                        }
                        text.append(hex);
                    } else {
                        text.append(c);
                    }
                }
            }
        }
        text.append('"');
    }
}
