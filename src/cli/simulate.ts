import { bootToolchainConfig } from '../config/boot';
import { formatReport, parseOptions, simulate, USAGE, UsageError } from '../simulate';

/** `npm run simulate -- …`: simulated radiologists against ReadFlow's REST API (see src/simulate/README.md). */
async function main(): Promise<void> {
  let opts;
  try {
    opts = parseOptions(process.argv.slice(2));
  } catch (err) {
    if (err instanceof UsageError) {
      process.stderr.write(`${err.message ? `${err.message}\n\n` : ''}${USAGE}\n`);
      process.exit(err.message ? 2 : 0);
    }
    throw err;
  }
  const report = await simulate(opts, { toolchain: bootToolchainConfig() });
  process.stdout.write(formatReport(report));
  process.exit(report.ok ? 0 : 1);
}

main().catch((err: unknown) => {
  process.stderr.write(`simulation failed: ${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
