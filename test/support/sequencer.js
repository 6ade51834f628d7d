/* global module, require */
/**
 * Longest files first, so that on CI's 2 cores no long file starts last while the other worker sits idle (the run
 * lasts about as long as its busiest worker). Jest's own sequencer does this from the durations it cached in an
 * earlier run, and falls back to file size when it has none (a fresh clone, a new cache directory), which puts e.g.
 * cluster.test.ts (one minute, 300 lines) behind many short files. Here a file without a cached duration gets the
 * typical duration listed below (seconds on the 2-core CI machine, measured file by file), and any other file one
 * second per 10 KB of source. Files that failed last time still go first, as with Jest's sequencer.
 */
// eslint-disable-next-line @typescript-eslint/no-require-imports -- Jest loads sequencers as CommonJS
const Sequencer = require('@jest/test-sequencer').default;
// eslint-disable-next-line @typescript-eslint/no-require-imports
const path = require('node:path');

/** Typical seconds of the slow integration files (the rest are shorter; a rough order is all that matters). */
const TYPICAL_SECONDS = {
  // 105 concurrent scans through the capacity owner: alone about 3 minutes under load, the run's longest file.
  'test/integration/workflow-capacity.test.ts': 200,
  'test/integration/cluster.test.ts': 80,
  'test/integration/simulate-chaos.test.ts': 80,
  'test/integration/api-releases.test.ts': 60,
  'test/integration/web.test.ts': 55,
  'test/integration/viewer.test.ts': 55,
  'test/integration/start.test.ts': 50,
  'test/integration/viewer-encodings.test.ts': 50,
  'test/integration/api-manager.test.ts': 45,
  'test/integration/release.test.ts': 45,
  'test/integration/api-fixes.test.ts': 40,
  'test/integration/security-temporal.test.ts': 40,
  'test/integration/workflow-adaptive.test.ts': 40,
  'test/integration/workflow-crash.test.ts': 40,
  'test/integration/workflow-batch.test.ts': 40,
  'test/integration/workflow-lifecycle.test.ts': 40,
  'test/integration/previews.test.ts': 35,
  'test/integration/api-capacity.test.ts': 35,
  'test/integration/api-stats.test.ts': 30,
  'test/integration/api-journey.test.ts': 30,
  'test/integration/previews-latency.test.ts': 30,
};

class LongestFirstSequencer extends Sequencer {
  sort(tests) {
    const seconds = (test) => {
      const cached = this.time(test);
      if (cached != null) return cached / 1000;
      const rel = path.relative(test.context.config.rootDir, test.path).split(path.sep).join('/');
      return TYPICAL_SECONDS[rel] ?? (test.context.hasteFS.getSize(test.path) ?? 0) / 10_000;
    };
    const keyed = tests.map((test) => ({ test, failed: this.hasFailed(test), s: seconds(test) }));
    keyed.sort((a, b) => (a.failed !== b.failed ? (a.failed ? -1 : 1) : b.s - a.s));
    return keyed.map((k) => k.test);
  }
}
module.exports = LongestFirstSequencer;
