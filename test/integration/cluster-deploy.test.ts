/**
 * The deployment files describe the shape `npm run start:cluster` runs: docker-compose.yml and the Kubernetes files
 * under deploy/k8s use the same Temporal server and UI versions, the same schema steps and search attributes, and only
 * configuration keys ReadFlow knows. Parsed (no engine runs here).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

import { parse, parseAllDocuments } from 'yaml';

import { CONFIG_KEYS } from '../../src/config/config';
import { TEMPORAL_SERVER_VERSION, TEMPORAL_UI_SERVER_VERSION } from '../../src/temporal/server-binaries';
import { SEARCH_ATTRIBUTE_CLI_ARGS } from '../../src/workflows/search-attributes';

const root = join(__dirname, '../..');
const server = TEMPORAL_SERVER_VERSION.slice(1);
const ui = TEMPORAL_UI_SERVER_VERSION.slice(1);

type Doc = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

/** `--name X --type Y` pairs of a `temporal operator search-attribute create` command, as `X=Y`. */
function searchAttributesIn(command: string): string[] {
  return [...command.matchAll(/--name (\w+) --type (\w+)/g)].map((m) => `${m[1]}=${m[2]}`).sort();
}

describe('deployment files match the cluster shape', () => {
  const compose = parse(readFileSync(join(root, 'docker-compose.yml'), 'utf8')) as Doc;
  const k8sDir = join(root, 'deploy/k8s');
  const k8s = readdirSync(k8sDir)
    .filter((f) => f.endsWith('.yaml'))
    .flatMap((f) =>
      parseAllDocuments(readFileSync(join(k8sDir, f), 'utf8')).map((d) => {
        expect(d.errors).toEqual([]);
        return { file: f, doc: d.toJS() as Doc };
      }),
    );
  const kind = (k: string, name: string): Doc => k8s.find((x) => x.doc.kind === k && x.doc.metadata?.name === name)!.doc;

  it('docker-compose.yml: the same server and UI versions, temporal-sql-tool schema steps, search attributes', () => {
    const s = compose.services as Doc;
    expect(s.temporal.image).toBe(`temporalio/server:${server}`);
    expect(s.temporal.environment).toMatchObject({ DB: 'postgres12', DBNAME: 'temporal', VISIBILITY_DBNAME: 'temporal_visibility' });
    expect(s['temporal-ui'].image).toBe(`temporalio/ui:${ui}`);
    const schema = (s['temporal-schema'].command as string[]).join(' ');
    for (const step of ['create-database', 'setup-schema -v 0.0', 'update-schema -d /etc/temporal/schema/postgresql/v12/$$kind/versioned']) {
      expect(schema).toContain(step);
    }
    expect(s['temporal-schema'].image).toBe(`temporalio/admin-tools:${server}`);
    expect(s.temporal.depends_on['temporal-schema'].condition).toBe('service_completed_successfully');
    expect(searchAttributesIn((s['temporal-setup'].command as string[]).join(' '))).toEqual([...SEARCH_ATTRIBUTE_CLI_ARGS].sort());
  });

  it('Helm values: Postgres persistence and SQL visibility, no Cassandra or Elasticsearch, the pinned images', () => {
    const values = k8s.find((x) => x.file === 'temporal-values.yaml')!.doc;
    expect(values.server.image.tag).toBe(server);
    expect(values.admintools.image.tag).toBe(server);
    expect(values.web.image.tag).toBe(ui);
    for (const store of ['default', 'visibility']) {
      expect(values.server.config.persistence[store]).toMatchObject({ driver: 'sql', sql: { driver: 'postgres12' } });
    }
    expect(values.server.config.persistence.visibility.sql.database).toBe('temporal_visibility');
    for (const off of ['cassandra', 'mysql', 'elasticsearch', 'postgresql']) expect(values[off].enabled).toBe(false);
    expect(values.schema).toEqual({ createDatabase: { enabled: true }, setup: { enabled: true }, update: { enabled: true } });
  });

  it('Kubernetes: worker and API Deployments on the shared config, the namespace job registers the search attributes', () => {
    const worker = kind('Deployment', 'readflow-worker');
    const api = kind('Deployment', 'readflow-api');
    expect(worker.spec.template.spec.containers[0].command).toEqual(['node', 'dist/src/cli/worker.js']);
    expect(api.spec.template.spec.containers[0].command).toEqual(['node', 'dist/src/cli/api.js']);
    expect(api.spec.template.spec.containers[0].readinessProbe.httpGet.path).toBe('/readyz');
    expect(kind('Service', 'readflow-api').spec.selector).toEqual(api.spec.selector.matchLabels);
    const config = kind('ConfigMap', 'readflow-config').data as Record<string, string>;
    for (const key of Object.keys(config)) expect(CONFIG_KEYS).toContain(key);
    for (const c of [worker, api].map((d) => d.spec.template.spec.containers[0])) {
      for (const e of c.env ?? []) expect(CONFIG_KEYS).toContain(e.name);
      for (const v of c.volumeMounts) expect(['/var/lib/readflow/storage', '/var/lib/readflow/import']).toContain(v.mountPath);
    }
    const claims = new Set(k8s.filter((x) => x.doc.kind === 'PersistentVolumeClaim').map((x) => x.doc.metadata.name));
    for (const d of [worker, api]) for (const v of d.spec.template.spec.volumes) expect(claims).toContain(v.persistentVolumeClaim.claimName);
    const job = kind('Job', 'readflow-temporal-setup');
    expect(job.spec.template.spec.containers[0].image).toBe(`temporalio/admin-tools:${server}`);
    expect(searchAttributesIn(job.spec.template.spec.containers[0].args.join(' '))).toEqual([...SEARCH_ATTRIBUTE_CLI_ARGS].sort());
  });
});
