import { ensureServerBinaries } from '../temporal/server-binaries';
import { bootToolchainConfig } from '../config/boot';

/**
 * `node dist/src/cli/provision-temporal-server.js`: finds or builds the Temporal server, SQL tool and UI server that
 * `npm run start:cluster` runs, and prints their paths. Used by .ci/run before the tests (the first build shows progress).
 */
async function main(): Promise<void> {
  const b = await ensureServerBinaries({ toolchain: bootToolchainConfig() });
  process.stdout.write(`${b.server}\n${b.sqlTool}\n${b.uiServer}\nschema: ${b.serverModuleDir}/schema/postgresql/v12\n`);
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
