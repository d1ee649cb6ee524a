package llama2.cli;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;

import llama2.engine.BadInputException;
import llama2.engine.Chat;
import llama2.engine.Checkpoint;
import llama2.engine.Generation;
import llama2.engine.Sampler;
import llama2.engine.Step;
import llama2.engine.Tokenizer;
import llama2.engine.Transformer;
import llama2.jvm.FastKernels;
import llama2.jvm.ThreadedShards;

/** {@code <checkpoint> [-t -p -s -n -i -z -m -y --ids]}: llama2.c's run, flag for flag. */
final class GenerateCommand {
    private String checkpointPath;
    private String tokenizerPath = "tokenizer.bin";
    private float temperature = 1.0f;
    private float topp = 0.9f;
    private long seed = 0;
    private int steps = 256;
    private String prompt = "";
    private String mode = "generate";
    private String systemPrompt;
    private boolean printIds;
    private int threads = Runtime.getRuntime().availableProcessors();

    private GenerateCommand() {}

    static void run(String[] args, PrintStream out) throws IOException {
        GenerateCommand command = new GenerateCommand();
        command.parse(args);
        command.execute(out);
    }

    private void parse(String[] args) {
        checkpointPath = args[0];
        for (int i = 1; i < args.length; i++) {
            String flag = args[i];
            if (flag.equals("--ids")) {
                printIds = true;
                continue;
            }
            String value = Flags.valueOf(args, i++);
            switch (flag) {
                case "-t" -> temperature = Flags.parseFloat(flag, value);
                case "-p" -> topp = Flags.parseFloat(flag, value);
                case "-s" -> seed = Flags.parseLong(flag, value);
                case "-n" -> steps = Flags.parseInt(flag, value);
                case "-i" -> prompt = value;
                case "-z" -> tokenizerPath = value;
                case "-m" -> mode = value;
                case "-y" -> systemPrompt = value;
                case "--threads" -> threads = Flags.parseInt(flag, value);
                default -> throw new BadInputException("unknown option " + flag + " (see --help)");
            }
        }
        Sampler.checkSettings(temperature, topp);
        Generation.checkSteps(steps);
        if (threads < 1) {
            throw new BadInputException("--threads must be at least 1, found " + threads);
        }
        threads = Math.min(threads, Runtime.getRuntime().availableProcessors()); // more only cost memory
        if (!mode.equals("generate") && !mode.equals("chat")) {
            throw new BadInputException("-m: mode must be generate or chat, found '" + mode + "'");
        }
        if (seed == 0) {
            seed = System.currentTimeMillis() / 1000; // run.c: time(NULL)
        }
    }

    private void execute(PrintStream out) throws IOException {
        Checkpoint checkpoint = Main.readCheckpoint(checkpointPath);
        int vocabSize = checkpoint.config().vocabSize();
        Tokenizer tokenizer = Main.readTokenizer(tokenizerPath, vocabSize);
        Sampler sampler = new Sampler(vocabSize, temperature, topp, seed);
        try (ThreadedShards shards = new ThreadedShards(FastKernels.of(checkpoint.weights()), threads)) {
            Transformer transformer = shards.transformer();
            if (mode.equals("chat")) {
                chat(transformer, tokenizer, sampler, out);
            } else {
                generate(new Generation(transformer, tokenizer, sampler, prompt, steps), out);
            }
        }
    }

    private void generate(Generation generation, PrintStream out) {
        long start = 0;
        Step step;
        do {
            step = generation.step();
            if (!printIds) {
                out.print(step.text());
                out.flush();
            }
            if (start == 0) {
                start = System.nanoTime(); // like run.c, the first step (JIT warm-up here) is not timed
            }
        } while (!step.isLast());
        if (printIds) {
            out.print(joinIds(generation.ids()));
        }
        out.println();
        out.flush();
        int pos = generation.position();
        if (pos > 1) {
            double seconds = (System.nanoTime() - start) / 1e9;
            System.err.printf("achieved tok/s: %f%n", (pos - 1) / seconds);
        }
    }

    private void chat(Transformer transformer, Tokenizer tokenizer, Sampler sampler, PrintStream out) throws IOException {
        BufferedReader stdin = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
        if (systemPrompt == null) {
            out.print("Enter system prompt (optional): ");
            out.flush();
            systemPrompt = orEmpty(stdin.readLine());
        }
        Chat chat = new Chat(transformer, tokenizer, sampler, steps, systemPrompt);
        boolean first = true;
        Step step;
        do {
            String message;
            if (first && !prompt.isEmpty()) {
                message = prompt;
            } else {
                out.print("User: ");
                out.flush();
                String line = stdin.readLine();
                if (line == null) {
                    break; // end of input ends the conversation
                }
                message = line;
            }
            first = false;
            chat.user(message);
            out.print("Assistant: ");
            out.flush();
            do {
                step = chat.step();
                out.print(step.text());
                out.flush();
            } while (!step.isLast());
        } while (step.end() == Step.End.TURN);
        out.println();
        out.flush();
    }

    private static String orEmpty(String line) {
        return line == null ? "" : line;
    }

    static String joinIds(int[] ids) {
        StringBuilder s = new StringBuilder();
        for (int i = 0; i < ids.length; i++) {
            if (i > 0) {
                s.append(' ');
            }
            s.append(ids[i]);
        }
        return s.toString();
    }
}
