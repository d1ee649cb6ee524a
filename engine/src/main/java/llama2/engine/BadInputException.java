package llama2.engine;

/**
 * The one error type the engine throws for a bad file, prompt or parameter.
 *
 * <p>Its message is a single line meant for a person: it names the thing that is wrong (the
 * file, the header field, the flag) and, where it helps, the value expected and the value found.
 * The CLI prints it and exits with status 1; the page shows it as it is. A subclass may carry
 * the facts behind the sentence, for a launcher that words them for its own reader.
 */
public class BadInputException extends RuntimeException {
    public BadInputException(String message) {
        super(message);
    }
}
