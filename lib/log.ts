import winston from 'winston';

/** Keys whose values never reach a log line. */
const SECRET_KEYS = /secret|token|password|authorization|vpsie-auth|userdata/i;

const redact = winston.format((info) => {
  for (const key of Object.keys(info)) {
    if (SECRET_KEYS.test(key)) info[key] = '[redacted]';
  }
  return info;
});

export type LogFormat = 'json' | 'console';
export type LogLevel = 'error' | 'warn' | 'info' | 'debug';

/** `json`: one JSON object a line. `console`: `<time> <level> [<component>] <message> key=value …`, for a developer's terminal. */
export function logFormat(kind: LogFormat): winston.Logform.Format {
  if (kind === 'json') return winston.format.combine(redact(), winston.format.timestamp(), winston.format.json());
  return winston.format.combine(
    redact(),
    winston.format.timestamp(),
    winston.format.printf((info) => {
      const { timestamp, level, message, component, ...rest } = info as Record<string, unknown> & { level: string; message: unknown };
      const fields = Object.entries(rest)
        .filter(([k]) => typeof k === 'string')
        .map(([k, v]) => `${k}=${typeof v === 'string' && !/\s/.test(v) ? v : JSON.stringify(v)}`)
        .join(' ');
      const text = typeof message === 'string' ? message : JSON.stringify(message);
      return `${String(timestamp)} ${level.toUpperCase().padEnd(5)} ${component !== undefined ? `[${String(component)}] ` : ''}${text}${fields ? ` ${fields}` : ''}`;
    }),
  );
}

const envFormat = (): LogFormat => (process.env.LOG_FORMAT === 'console' ? 'console' : 'json');

const root = winston.createLogger({
  level: process.env.LOG_LEVEL ?? 'info',
  format: logFormat(envFormat()),
  transports: [new winston.transports.Console({ stderrLevels: ['error', 'warn', 'info', 'debug'] })],
});

export type Logger = winston.Logger;

/** Sets the level and format of every logger, those made before included (the process calls it once its configuration is read). */
export function configureLogging(o: { level?: LogLevel; format?: LogFormat }): void {
  if (o.level) root.level = o.level;
  if (o.format) root.format = logFormat(o.format);
}

/** A structured logger (JSON by default) carrying `component` and any other context fields on every line. */
export function logger(component: string, context: Record<string, unknown> = {}): Logger {
  return root.child({ component, ...context });
}
