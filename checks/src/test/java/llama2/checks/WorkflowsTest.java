package llama2.checks;

import static llama2.checks.Workflows.allStrings;
import static llama2.checks.Workflows.map;
import static llama2.checks.Workflows.mappings;
import static llama2.checks.Workflows.strings;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;

import llama2.checks.Workflows.Workflow;
import org.junit.jupiter.api.Test;

/**
 * The workflows are valid GitHub Actions files (a linter's structural checks: known keys, every
 * job with steps or a called workflow, every step with {@code uses} or {@code run}, actions pinned
 * to a major version, {@code needs} and step outputs that exist, closed expressions), and they are
 * wired as the README says: tests on every push and pull request, Pages only after the tests
 * passed, a release only after the tests passed, with its four assets.
 */
class WorkflowsTest {
    private static final Set<String> TOP_KEYS = Set.of("name", "run-name", "on", "permissions", "env", "defaults",
            "concurrency", "jobs");
    private static final Set<String> EVENTS = Set.of("push", "pull_request", "pull_request_target", "workflow_dispatch",
            "workflow_call", "workflow_run", "schedule", "release", "create", "delete", "merge_group", "repository_dispatch");
    private static final Set<String> JOB_KEYS = Set.of("name", "needs", "runs-on", "permissions", "environment",
            "concurrency", "outputs", "env", "defaults", "if", "steps", "timeout-minutes", "strategy",
            "continue-on-error", "container", "services", "uses", "with", "secrets");
    private static final Set<String> STEP_KEYS = Set.of("id", "if", "name", "uses", "run", "shell", "with", "env",
            "continue-on-error", "timeout-minutes", "working-directory");
    /** owner/repo[/path]@vN: a major version tag, which the action's authors move along compatible releases. */
    private static final Pattern PINNED = Pattern.compile("[A-Za-z0-9-]+/[A-Za-z0-9._-]+(/[A-Za-z0-9._/-]+)?@v\\d+");
    private static final Pattern STEP_REFERENCE = Pattern.compile("steps\\.([A-Za-z_][A-Za-z0-9_-]*)\\.");

    @Test
    void theFolderHoldsTheThreeWorkflows() {
        Set<String> files = Workflows.all().stream().map(Workflow::file).collect(Collectors.toSet());
        assertTrue(files.containsAll(Set.of("test.yml", "pages.yml", "release.yml")), "found " + files);
    }

    @Test
    void everyWorkflowHasANameKnownTriggersAndJobs() {
        for (Workflow w : Workflows.all()) {
            for (Object key : w.yaml().keySet()) {
                String k = key.equals(Boolean.TRUE) ? "on" : String.valueOf(key);
                assertTrue(TOP_KEYS.contains(k), w.file() + ": unknown top-level key '" + k + "'");
            }
            assertNotNull(w.name(), w.file() + ": no name");
            assertFalse(w.triggers().isEmpty(), w.file() + ": no 'on' triggers");
            for (String event : w.triggers().keySet()) {
                assertTrue(EVENTS.contains(event), w.file() + ": unknown event '" + event + "'");
            }
            assertFalse(w.jobs().isEmpty(), w.file() + ": no jobs");
        }
    }

    @Test
    void everyJobRunsStepsOnARunnerOrCallsAWorkflow() {
        forEachJob((w, id, job) -> {
            for (String key : job.keySet()) {
                assertTrue(JOB_KEYS.contains(key), where(w, id) + ": unknown key '" + key + "'");
            }
            boolean calls = job.containsKey("uses");
            boolean runs = job.containsKey("runs-on") && !mappings(job.get("steps")).isEmpty();
            assertTrue(calls != runs, where(w, id) + ": needs either runs-on with steps, or uses (a called workflow)");
        });
    }

    @Test
    void everyStepHasEitherUsesOrRun() {
        forEachStep((w, id, step) -> {
            for (String key : step.keySet()) {
                assertTrue(STEP_KEYS.contains(key), where(w, id) + ": unknown step key '" + key + "' in " + step);
            }
            assertTrue(step.containsKey("uses") != step.containsKey("run"),
                    where(w, id) + ": a step needs exactly one of uses and run: " + step);
        });
    }

    @Test
    void actionsArePinnedToAMajorVersionAndLocalWorkflowsExist() {
        forEachJob((w, id, job) -> {
            if (job.containsKey("uses")) {
                String called = (String) job.get("uses");
                assertTrue(called.startsWith("./.github/workflows/"), where(w, id) + ": calls " + called);
                Workflow target = Workflows.named(called.substring("./.github/workflows/".length()));
                assertTrue(target.triggers().containsKey("workflow_call"),
                        where(w, id) + ": calls " + target.file() + ", which has no workflow_call trigger");
            }
        });
        forEachStep((w, id, step) -> {
            if (step.containsKey("uses")) {
                String action = (String) step.get("uses");
                assertTrue(PINNED.matcher(action).matches(),
                        where(w, id) + ": '" + action + "' is not owner/name@vN (pinned to a major version)");
            }
        });
    }

    @Test
    void needsNameJobsOfTheSameWorkflow() {
        forEachJob((w, id, job) -> {
            for (String needed : strings(job.get("needs"))) {
                assertTrue(w.jobs().containsKey(needed), where(w, id) + ": needs '" + needed + "', no such job");
                assertFalse(needed.equals(id), where(w, id) + ": needs itself");
            }
        });
    }

    @Test
    void stepOutputsReferToStepsOfTheSameJob() {
        forEachJob((w, id, job) -> {
            Set<String> ids = new HashSet<>();
            mappings(job.get("steps")).forEach(step -> {
                if (step.containsKey("id")) {
                    assertTrue(ids.add((String) step.get("id")), where(w, id) + ": two steps with id " + step.get("id"));
                }
            });
            for (String text : allStrings(job)) {
                Matcher m = STEP_REFERENCE.matcher(text);
                while (m.find()) {
                    assertTrue(ids.contains(m.group(1)), where(w, id) + ": refers to step '" + m.group(1)
                            + "', which is not a step id of this job (" + ids + ")");
                }
            }
        });
    }

    @Test
    void everyExpressionIsClosed() {
        for (Workflow w : Workflows.all()) {
            for (String text : allStrings(w.yaml())) {
                int open = text.split("\\$\\{\\{", -1).length - 1;
                int close = text.split("}}", -1).length - 1;
                assertEquals(open, close, w.file() + ": unbalanced ${{ }} in: " + text);
            }
        }
    }

    @Test
    void testsRunMvnVerifyOnEveryPushAndPullRequestWithJava17AndABrowser() {
        Workflow tests = Workflows.named("test.yml");
        Map<String, Object> on = tests.triggers();
        assertTrue(on.containsKey("push") && on.containsKey("pull_request"), "test.yml triggers: " + on.keySet());
        assertEquals(List.of("**"), strings(map(on.get("push")).get("branches")), "every branch");
        assertFalse(map(on.get("push")).containsKey("paths"), "no path filter: every push is tested");
        assertTrue(on.containsKey("workflow_call"), "release.yml calls it");

        List<Map<String, Object>> steps = mappings(onlyJob(tests).get("steps"));
        Map<String, Object> java = step(steps, "actions/setup-java@");
        assertEquals("17", String.valueOf(map(java.get("with")).get("java-version")));
        assertEquals("maven", map(java.get("with")).get("cache"));

        Map<String, Object> chrome = step(steps, "browser-actions/setup-chrome@");
        assertEquals(Boolean.TRUE, map(chrome.get("with")).get("install-chromedriver"));
        Map<String, Object> verify = steps.stream().filter(s -> String.valueOf(s.get("run")).matches("mvn .*verify.*"))
                .findFirst().orElseThrow(() -> new AssertionError("no step runs mvn verify"));
        Map<String, Object> env = map(verify.get("env"));
        String id = (String) chrome.get("id");
        assertEquals("${{ steps." + id + ".outputs.chrome-path }}", env.get("CHROMIUM_BINARY"));
        assertEquals("${{ steps." + id + ".outputs.chromedriver-path }}", env.get("CHROMEDRIVER"));
        assertEquals("true", env.get("CHROMIUM_REQUIRED"), "the browser tests must run, not be skipped");

        Map<String, Object> upload = step(steps, "actions/upload-artifact@");
        assertEquals("failure()", upload.get("if"));
        assertTrue(steps.indexOf(upload) > steps.indexOf(verify), "the reports are uploaded after the tests");
    }

    @Test
    void pagesDeploysOnlyACommitOfMainWhoseTestsPassed() {
        Workflow pages = Workflows.named("pages.yml");
        assertEquals(Set.of("workflow_run"), pages.triggers().keySet(), "no other way in than the tests passing");
        Map<String, Object> run = map(pages.triggers().get("workflow_run"));
        assertEquals(List.of(Workflows.named("test.yml").name()), strings(run.get("workflows")));
        assertEquals(List.of("completed"), strings(run.get("types")));
        assertEquals(List.of("main"), strings(run.get("branches")));

        Map<String, Object> build = pages.jobs().get("build");
        String condition = String.valueOf(build.get("if"));
        assertTrue(condition.contains("github.event.workflow_run.conclusion == 'success'"), condition);
        assertTrue(condition.contains("github.event.workflow_run.event == 'push'"), condition);
        Map<String, Object> checkout = step(mappings(build.get("steps")), "actions/checkout@");
        assertEquals("${{ github.event.workflow_run.head_sha }}", map(checkout.get("with")).get("ref"),
                "the commit that was tested, not whatever main is now");
        step(mappings(build.get("steps")), "actions/upload-pages-artifact@");

        Map<String, Object> deploy = pages.jobs().get("deploy");
        assertEquals(List.of("build"), strings(deploy.get("needs")));
        step(mappings(deploy.get("steps")), "actions/deploy-pages@");
    }

    @Test
    void releaseTestsThenPublishesTheJarsTheSiteAndChecksums() throws IOException {
        Workflow release = Workflows.named("release.yml");
        assertEquals(Set.of("push"), release.triggers().keySet());
        assertEquals(List.of("v*"), strings(map(release.triggers().get("push")).get("tags")));
        assertEquals("./.github/workflows/test.yml", release.jobs().get("test").get("uses"));

        Map<String, Object> publish = release.jobs().get("release");
        assertEquals(List.of("test"), strings(publish.get("needs")));
        assertEquals("write", map(publish.get("permissions")).get("contents"));
        String script = mappings(publish.get("steps")).stream().map(s -> String.valueOf(s.getOrDefault("run", "")))
                .collect(Collectors.joining("\n"));
        for (String asset : List.of("dist/llama2.jar", "dist/llama2-train.jar", "dist/llama2-site.zip", "dist/SHA256SUMS")) {
            assertTrue(script.contains("gh release create") && script.contains(asset), "release.yml does not attach " + asset);
        }
        assertTrue(script.contains("sha256sum llama2.jar llama2-train.jar llama2-site.zip"), "checksums of the three assets");
        // The jars it copies are the ones the build makes: finalName in each module's pom.
        for (String module : List.of("engine", "train")) {
            String pom = Files.readString(Workflows.REPOSITORY.resolve(module).resolve("pom.xml"));
            Matcher finalName = Pattern.compile("<finalName>([^<]+)</finalName>").matcher(pom);
            assertTrue(finalName.find(), module + "/pom.xml has no finalName");
            assertTrue(script.contains(module + "/target/" + finalName.group(1) + ".jar"),
                    "release.yml copies " + module + "'s jar under another name than " + finalName.group(1) + ".jar");
        }
    }

    // --- helpers

    private interface JobVisitor {
        void visit(Workflow workflow, String id, Map<String, Object> job);
    }

    private interface StepVisitor {
        void visit(Workflow workflow, String jobId, Map<String, Object> step);
    }

    private static void forEachJob(JobVisitor visitor) {
        for (Workflow w : Workflows.all()) {
            w.jobs().forEach((id, job) -> visitor.visit(w, id, map(job)));
        }
    }

    private static void forEachStep(StepVisitor visitor) {
        forEachJob((w, id, job) -> mappings(job.get("steps")).forEach(step -> visitor.visit(w, id, step)));
    }

    private static String where(Workflow w, String job) {
        return w.file() + ", job " + job;
    }

    private static Map<String, Object> onlyJob(Workflow w) {
        assertEquals(1, w.jobs().size(), w.file() + ": one job");
        return w.jobs().values().iterator().next();
    }

    private static Map<String, Object> step(List<Map<String, Object>> steps, String actionPrefix) {
        return steps.stream().filter(s -> String.valueOf(s.get("uses")).startsWith(actionPrefix)).findFirst()
                .orElseThrow(() -> new AssertionError("no step uses " + actionPrefix + "…"));
    }
}
