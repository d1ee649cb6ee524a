package llama2.train;

import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;
import java.util.Set;
import java.util.function.Function;

import llama2.engine.BadInputException;
import llama2.io.SafeFiles;

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

    /** A file that must exist and be a regular file (a FIFO would block forever). */
    Path file(String flag) {
        Path p = path(flag);
        try {
            SafeFiles.requireRegularFile(p);
        } catch (BadInputException e) {
            throw new BadInputException(command + ": " + flag + " " + e.getMessage());
        }
        return p;
    }

    /** A file the command writes, which must not be one of its {@code inputs}. */
    Path output(String flag, Path... inputs) {
        Path p = path(flag);
        SafeFiles.requireDistinct(p, inputs);
        return p;
    }

    Path path(String flag) {
        return SafeFiles.path(required(flag), command + ": " + flag);
    }

    int integer(String flag, int fallback) {
        return parsed(flag, fallback, Integer::parseInt, "an integer");
    }

    long longValue(String flag, long fallback) {
        return parsed(flag, fallback, Long::parseLong, "an integer");
    }

    float number(String flag, float fallback) {
        return parsed(flag, fallback, v -> {
            float f = Float.parseFloat(v);
            if (!Float.isFinite(f)) {
                throw new NumberFormatException();
            }
            return f;
        }, "a number");
    }

    /** The flag's value read by {@code parse}, or {@code fallback} when the flag is absent. */
    private <T> T parsed(String flag, T fallback, Function<String, T> parse, String expected) {
        String v = values.get(flag);
        if (v == null) {
            return fallback;
        }
        try {
            return parse.apply(v);
        } catch (NumberFormatException e) {
            throw new BadInputException(command + ": " + flag + " expects " + expected + ", got '" + v + "'");
        }
    }
}
