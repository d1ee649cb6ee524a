package llama2.train;

import java.io.IOException;
import java.io.PrintStream;
import java.util.List;

import llama2.engine.BadInputException;
import llama2.io.CommandLine;

/**
 * {@code java -jar llama2-train.jar <command> [options]}: from a text file to a model the engine
 * runs. Bad input or a fault of any kind ends with one line naming the problem and exit status 1.
 */
public final class Main {
    private Main() {}

    static final String HELP = """
            usage: java -jar llama2-train.jar <command> [options]
            commands (each takes --help):
              tokenizer  learn a BPE vocabulary from a text file, write tokenizer.bin
              prepare    tokenize a text file once into a token file for training
              train      train a new model, fine-tune a llama2.c checkpoint, or resume a run
              export     write a training checkpoint or model as a llama2.c file (version 0, 1, 2)
              eval       loss per token, perplexity and bits per byte of a model on a text file
              sample     generate text from a model
              plot       draw a run's losses.csv as a loss-curve SVG
              bench      training tokens/s and FLOP utilisation of each kernel set and thread count
            Text files hold stories separated by lines '<|endoftext|>' (a text without such
            lines: by blank lines, one story per paragraph).
            The jar starts a second JVM with the Vector API (jdk.incubator.vector), which makes
            training several times faster, unless java was started with --add-modules itself.
            """;

    /**
     * Started without {@code --add-modules jdk.incubator.vector}, the program starts itself again
     * with it (see {@link CommandLine}), and without the JVM's warning about incubator modules.
     */
    public static void main(String[] args) {
        CommandLine.main(args, Main.class, true, Main::run);
    }

    static int run(String[] args, PrintStream out) throws IOException {
        if (args.length == 0 || args[0].equals("--help") || args[0].equals("-h") || args[0].equals("help")) {
            out.print(HELP);
            return args.length == 0 ? 1 : 0;
        }
        String command = args[0];
        String[] rest = java.util.Arrays.copyOfRange(args, 1, args.length);
        String help = switch (command) {
            case "tokenizer" -> TextCommands.TOKENIZER_HELP;
            case "prepare" -> TextCommands.PREPARE_HELP;
            case "train" -> TrainCommand.HELP;
            case "export" -> ModelCommands.EXPORT_HELP;
            case "eval" -> ModelCommands.EVAL_HELP;
            case "sample" -> ModelCommands.SAMPLE_HELP;
            case "plot" -> PlotCommand.HELP;
            case "bench" -> BenchCommand.HELP;
            default -> throw new BadInputException("unknown command '" + command + "' (try --help)");
        };
        if (List.of(rest).contains("--help") || List.of(rest).contains("-h")) {
            out.print(help);
            return 0;
        }
        Kernels.use(KernelChoice.named(command, KernelChoice.defaultName()));
        switch (command) {
            case "tokenizer" -> TextCommands.tokenizer(rest, out);
            case "prepare" -> TextCommands.prepare(rest, out);
            case "train" -> TrainCommand.run(rest);
            case "export" -> ModelCommands.export(rest, out);
            case "eval" -> ModelCommands.eval(rest, out);
            case "sample" -> ModelCommands.sample(rest, out);
            case "plot" -> PlotCommand.run(rest, out);
            case "bench" -> BenchCommand.run(rest, out);
            default -> throw new AssertionError(command);
        }
        return 0;
    }
}
