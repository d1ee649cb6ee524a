package llama2.web.train;

import java.nio.file.Path;
import java.nio.file.Files;
import java.time.Duration;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import llama2.web.server.DevServer;
import llama2.web.support.Chromium;
import org.openqa.selenium.OutputType;
import org.openqa.selenium.chrome.ChromeDriver;
import org.openqa.selenium.support.ui.WebDriverWait;

/**
 * Fine-tunes the story model on a text of yours in the Train view, in headless Chromium, as a
 * visitor would (the page's test hooks), and prints what the README reports: the minutes it took,
 * the validation loss before and after, the page's last sample, and a story the story view then
 * writes with the result from {@code prompt}; then screenshots of the view as the run ended
 * (1280×800 and 390×844, light and dark) into {@code web/screenshots/}. A figure, not a test:
 * {@code mvn -q -pl web -am exec:java@train-finetune -Dtext=my.txt -Dsteps=60 -Dworkers=2 -Dprompt="The"}
 * after a build.
 */
public final class FineTuneRun {
    private FineTuneRun() {}

    public static void main(String[] args) throws Exception {
        Path site = Path.of(args[0]), text = Path.of(args[1]).toAbsolutePath();
        int steps = Integer.parseInt(args[2]), workers = Integer.parseInt(args[3]);
        String prompt = args.length > 4 ? args[4] : "";
        try (DevServer server = new DevServer(0, List.of(site)); Chromium browser = Chromium.start()) {
            String url = server.url() + "?view=train&mode=finetune&steps=" + steps + "&workers=" + workers;
            browser.open(url);
            browser.script("indexedDB.deleteDatabase('llama2-train')");
            browser.open(url);
            browser.element("train-text").sendKeys(text.toString());
            new WebDriverWait(browser.driver(), Duration.ofSeconds(30))
                    .until(d -> browser.element("train-status").getText().contains("read"));
            new WebDriverWait(browser.driver(), Duration.ofMinutes(5))
                    .until(d -> browser.element("train-estimate").getText().startsWith("About "));
            System.out.println("estimate: " + browser.element("train-estimate").getText());
            long start = System.nanoTime();
            browser.element("train-start").click();
            new WebDriverWait(browser.driver(), Duration.ofHours(3)).pollingEvery(Duration.ofSeconds(5))
                    .until(d -> List.of("done", "error").contains(browser.script("return document.body.dataset.trainState")));
            double minutes = (System.nanoTime() - start) / 60e9;
            System.out.println("status: " + browser.element("train-status").getText());
            System.out.println("numbers: " + browser.element("train-numbers").getText());
            System.out.println("valid losses (step:loss): " + browser.element("train-loss").getAttribute("data-valid-losses"));
            System.out.printf(Locale.ROOT, "minutes from Start to done: %.1f%n", minutes);
            System.out.println("the page's last sample: " + browser.element("train-sample").getText());
            if (!"done".equals(browser.script("return document.body.dataset.trainState"))) {
                return;
            }
            if (args.length > 5) {
                screenshots(browser, Path.of(args[5]));
            }
            browser.element("train-use").click();
            browser.awaitReady(Duration.ofSeconds(120));
            browser.script("document.getElementById('prompt').value = arguments[0];"
                    + "document.getElementById('steps').value = '200'; document.getElementById('seed').value = '42';", prompt);
            browser.element("generate").click();
            browser.awaitState(Duration.ofMinutes(5), "done", "error");
            System.out.println("the story view, seed 42, prompt \"" + prompt + "\": " + browser.element("output").getText());
        }
    }

    /** The Train view as it is now, at 1280×800 and 390×844, light and dark, from its status line down. */
    static void screenshots(Chromium browser, Path dir) throws Exception {
        Files.createDirectories(dir);
        ChromeDriver driver = (ChromeDriver) browser.driver();
        for (String scheme : List.of("light", "dark")) {
            driver.executeCdpCommand("Emulation.setEmulatedMedia", Map.of("features",
                    List.of(Map.of("name", "prefers-color-scheme", "value", scheme))));
            for (int[] size : new int[][] {{1280, 800}, {390, 844}}) {
                driver.executeCdpCommand("Emulation.setDeviceMetricsOverride", Map.of("width", size[0], "height", size[1],
                        "deviceScaleFactor", 1, "mobile", size[0] < 600));
                browser.script("document.getElementById('train-status').scrollIntoView({block: 'start'})");
                Thread.sleep(300);
                Path file = dir.resolve("train-" + (size[0] < 600 ? "phone" : "desktop") + "-" + scheme + ".png");
                Files.write(file, driver.getScreenshotAs(OutputType.BYTES));
                System.out.println("wrote " + file);
            }
        }
    }
}
