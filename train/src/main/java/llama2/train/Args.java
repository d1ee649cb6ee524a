package llama2.train;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;
import java.util.Set;

import llama2.engine.BadInputException;

/**
 * The {@code --name value} flags of one subcommand. Unknown flags, missing values and values of
 * the wrong type are {@link BadInputException}s naming the flag.
 */
final class Args {
    private final String command;
    private final Map<String, String> values = new HashMap<>();

    /** {@code switches} are flags without a value (present means true). */
    Args(String command, String[] args, Set<String> flags, Set<String> switches) {
        this.command = command;
        for (int i = 0; i < args.length; i++) {
            String a = args[i];
            if (switches.contains(a)) {
                values.put(a, "true");
            } else if (flags.contains(a)) {
                if (i + 1 >= args.length) {
                    throw new BadInputException(command + ": " + a + " needs a value");
                }
                values.put(a, args[++i]);
            } else {
                throw new BadInputException(command + ": unknown option '" + a + "' (see " + command + " --help)");
            }
        }
    }

    boolean has(String flag) {
        return values.containsKey(flag);
    }

    String string(String flag, String fallback) {
        return values.getOrDefault(flag, fallback);
    }

    String required(String flag) {
        String v = values.get(flag);
        if (v == null) {
            throw new BadInputException(command + ": " + flag + " is required (see " + command + " --help)");
        }
        return v;
    }

    /** A file that must exist. */
    Path file(String flag) {
        Path p = Path.of(required(flag));
        if (!Files.isRegularFile(p)) {
            throw new BadInputException(command + ": " + flag + " " + p + ": no such file");
        }
        return p;
    }

    int integer(String flag, int fallback) {
        String v = values.get(flag);
        if (v == null) {
            return fallback;
        }
        try {
            return Integer.parseInt(v);
        } catch (NumberFormatException e) {
            throw new BadInputException(command + ": " + flag + " expects an integer, got '" + v + "'");
        }
    }

    long longValue(String flag, long fallback) {
        String v = values.get(flag);
        if (v == null) {
            return fallback;
        }
        try {
            return Long.parseLong(v);
        } catch (NumberFormatException e) {
            throw new BadInputException(command + ": " + flag + " expects an integer, got '" + v + "'");
        }
    }

    float number(String flag, float fallback) {
        String v = values.get(flag);
        if (v == null) {
            return fallback;
        }
        try {
            float f = Float.parseFloat(v);
            if (!Float.isFinite(f)) {
                throw new NumberFormatException();
            }
            return f;
        } catch (NumberFormatException e) {
            throw new BadInputException(command + ": " + flag + " expects a number, got '" + v + "'");
        }
    }
}
