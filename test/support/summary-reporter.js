/* global process, module */
/**
 * Prints one plain closing line after everything Jest prints, e.g. `Tests: 279 passed, 0 failed, 0 skipped`,
 * so CI logs end with the count of tests that ran, whatever reads them.
 */
class SummaryReporter {
  onRunComplete(_contexts, results) {
    const skipped = results.numPendingTests + results.numTodoTests;
    const broken = results.numRuntimeErrorTestSuites;
    const line =
      (broken > 0 ? `${broken} test suite(s) failed to run\n` : '') +
      `Tests: ${results.numPassedTests} passed, ${results.numFailedTests} failed, ${skipped} skipped\n`;
    // Jest's own summary is written after the reporters' onRunComplete: print ours last, at exit.
    process.once('exit', () => process.stderr.write(`\n${line}`));
  }
}
module.exports = SummaryReporter;
