import pino from 'pino';
import type { Logger } from 'pino';

import type { Config } from './config/config';

export type { Logger } from 'pino';

/** The process logger: JSON lines (pino), pretty-printed in development when attached to a terminal. */
export function createLogger(config: Pick<Config, 'logLevel' | 'env'>, name = 'readflow'): Logger {
  const pretty = config.env === 'development' && process.stdout.isTTY;
  return pino({
    name,
    level: config.logLevel,
    redact: { paths: ['req.headers.authorization', '*.token', 'token'], censor: '[redacted]' },
    ...(pretty ? { transport: { target: 'pino-pretty', options: { translateTime: 'SYS:HH:MM:ss', ignore: 'pid,hostname' } } } : {}),
  });
}
