package llama2.cli;

import llama2.engine.BadInputException;

/** Parses the values of command-line flags, naming the flag in every error. */
final class Flags {
    private Flags() {}

    static float parseFloat(String flag, String value) {
        try {
            float f = Float.parseFloat(value);
            if (Float.isNaN(f) || Float.isInfinite(f)) {
                throw new NumberFormatException();
            }
            return f;
        } catch (NumberFormatException e) {
            throw new BadInputException(flag + " expects a number, found '" + value + "'");
        }
    }

    static int parseInt(String flag, String value) {
        try {
            return Integer.parseInt(value);
        } catch (NumberFormatException e) {
            throw new BadInputException(flag + " expects an integer, found '" + value + "'");
        }
    }

    static long parseLong(String flag, String value) {
        try {
            return Long.parseLong(value);
        } catch (NumberFormatException e) {
            throw new BadInputException(flag + " expects an integer, found '" + value + "'");
        }
    }

    static String valueOf(String[] args, int i) {
        if (i + 1 >= args.length) {
            throw new BadInputException(args[i] + " needs a value (see --help)");
        }
        return args[i + 1];
    }
}
