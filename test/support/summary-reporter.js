/* global process, module, require */
/**
 * Prints one plain closing line after everything Jest prints, e.g. `Tests: 279 passed, 0 failed, 0 skipped`,
 * so CI logs end with the count of tests that ran, whatever reads them. With READFLOW_TEST_SUMMARY_FILE set (.ci/run,
 * which runs the suite once per Node version), the counts are also appended there as one JSON line, so CI can close
 * its log with the totals of every run.
 */
// eslint-disable-next-line @typescript-eslint/no-require-imports -- Jest loads reporters as CommonJS
const { appendFileSync } = require('node:fs');

class SummaryReporter {
  onRunComplete(_contexts, results) {
    const skipped = results.numPendingTests + results.numTodoTests;
    const broken = results.numRuntimeErrorTestSuites;
    const line =
      (broken > 0 ? `${broken} test suite(s) failed to run\n` : '') +
      `Tests: ${results.numPassedTests} passed, ${results.numFailedTests} failed, ${skipped} skipped\n`;
    const file = process.env.READFLOW_TEST_SUMMARY_FILE;
    if (file) {
      const counts = { node: process.version, passed: results.numPassedTests, failed: results.numFailedTests, skipped, broken };
      appendFileSync(file, `${JSON.stringify(counts)}\n`);
    }
    // Jest's own summary is written after the reporters' onRunComplete: print ours last, at exit.
    process.once('exit', () => process.stderr.write(`\n${line}`));
  }
}
module.exports = SummaryReporter;
