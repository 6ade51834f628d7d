import { resolve } from 'node:path';

import { devServerArgs } from './dev-server';

describe('temporal server start-dev arguments', () => {
  const base = { address: '127.0.0.1:7233', namespace: 'readflow', uiPort: 8233, dbFile: '.data/temporal.sqlite' };

  it('points the UI at ReadFlow’s codec endpoint when one is given', () => {
    const args = devServerArgs({ ...base, codecEndpoint: 'http://127.0.0.1:3000/api/v1/temporal-codec' });
    const i = args.indexOf('--ui-codec-endpoint');
    expect(i).toBeGreaterThan(1);
    expect(args[i + 1]).toBe('http://127.0.0.1:3000/api/v1/temporal-codec');
  });

  it('leaves the codec out without one, and keeps the server on the given loopback address, SQLite file, namespace and search attributes', () => {
    const args = devServerArgs(base);
    expect(args).not.toContain('--ui-codec-endpoint');
    expect(args.slice(0, 2)).toEqual(['server', 'start-dev']);
    const value = (flag: string): string | undefined => args[args.indexOf(flag) + 1];
    expect(value('--ip')).toBe('127.0.0.1');
    expect(value('--port')).toBe('7233');
    expect(value('--ui-port')).toBe('8233');
    expect(value('--db-filename')).toBe(resolve('.data/temporal.sqlite'));
    expect(value('--namespace')).toBe('readflow');
    expect(args.filter((a) => a === '--search-attribute').length).toBeGreaterThanOrEqual(5);
  });
});
