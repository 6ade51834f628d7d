import { bootToolchainConfig } from '../config/boot';
import { ensureTemporalCli } from '../temporal/temporal-cli';

/**
 * `node dist/src/cli/provision-temporal.js`: finds or builds the Temporal CLI and prints its path.
 * Used by .ci/run before the tests, so the (slow, first-time) build shows its progress.
 */
async function main(): Promise<void> {
  const path = await ensureTemporalCli(bootToolchainConfig());
  process.stdout.write(`${path}\n`);
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
