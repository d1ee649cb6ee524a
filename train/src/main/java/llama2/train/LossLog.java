package llama2.train;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

import llama2.engine.BadInputException;
import llama2.io.SafeFiles;

/**
 * A run's losses as CSV beside its checkpoint, one row per logged step: {@code step, train_loss
 * (mean over the steps since the previous row), valid_loss (empty when not validated), lr,
 * tokens, seconds}. A resumed run first drops the rows past its checkpoint's step, so the file
 * always describes the run that the checkpoint continues.
 */
final class LossLog {
    static final String FILE = "losses.csv";
    static final String HEADER = "step,train_loss,valid_loss,lr,tokens,seconds";

    private final Path path;

    private LossLog(Path path) {
        this.path = path;
    }

    /**
     * Opens (or starts) the log of a run now at {@code step}. The rewrite is atomic, and a row a
     * kill cut short is dropped, so a log never stops a resume.
     */
    static LossLog open(Path path, int step) {
        StringBuilder kept = new StringBuilder(HEADER).append('\n');
        if (Files.isRegularFile(path)) {
            for (Row row : read(path)) {
                if (row.step() <= step) {
                    kept.append(row.line()).append('\n');
                }
            }
        }
        byte[] bytes = kept.toString().getBytes(StandardCharsets.UTF_8);
        SafeFiles.write(path, out -> out.write(bytes));
        return new LossLog(path);
    }

    void append(int step, double trainLoss, double validLoss, float lr, long tokens, double seconds) throws IOException {
        String line = String.format(Locale.ROOT, "%d,%.6f,%s,%.6e,%d,%.1f%n", step, trainLoss,
                Double.isNaN(validLoss) ? "" : String.format(Locale.ROOT, "%.6f", validLoss), lr, tokens, seconds);
        Files.writeString(path, line, StandardCharsets.UTF_8, StandardOpenOption.APPEND);
    }

    /** One row; {@code validLoss} is NaN where the step was not validated. */
    record Row(int step, double trainLoss, double validLoss, double lr, long tokens, double seconds, String line) {}

    /** The complete rows: a row being appended (or cut short by a kill) is left out. */
    static List<Row> read(Path path) {
        String text = new String(SafeFiles.readAllBytes(path), StandardCharsets.UTF_8);
        return parse(path, text.substring(0, text.lastIndexOf('\n') + 1).lines().toList());
    }

    private static List<Row> parse(Path path, List<String> lines) {
        List<Row> rows = new ArrayList<>();
        if (lines.isEmpty() || !lines.get(0).equals(HEADER)) {
            throw new BadInputException(path + ": not a loss log (expected the header '" + HEADER + "')");
        }
        for (int i = 1; i < lines.size(); i++) {
            String[] f = lines.get(i).split(",", -1);
            try {
                rows.add(new Row(Integer.parseInt(f[0]), Double.parseDouble(f[1]),
                        f[2].isEmpty() ? Double.NaN : Double.parseDouble(f[2]), Double.parseDouble(f[3]),
                        Long.parseLong(f[4]), Double.parseDouble(f[5]), lines.get(i)));
            } catch (RuntimeException e) {
                throw new BadInputException(path + ": line " + (i + 1) + " is not a loss row: '" + lines.get(i) + "'");
            }
        }
        return rows;
    }
}
