// Test runner settings: unit tests beside the code, cross-process suites in test/.
import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["core/**/*.test.ts", "cli/**/*.test.ts", "api/**/*.test.ts", "runtime/**/*.test.ts", "functions/**/*.test.ts", "test/**/*.test.ts"],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: "forks",
    // Starts (or reuses) LocalStack for the S3/SES/EventBridge suites; fails the run if it cannot.
    // Then empties the fault suite's results file and prints its table when the run ends. Last, so LocalStack (which may
    // outlive the run) keeps the usual temp folder: the run's own temp folder, removed at its end (test/temp-root.ts).
    globalSetup: ["test/localstack/global-setup.ts", "test/fault/report.ts", "test/temp-root.ts"],
  },
});
