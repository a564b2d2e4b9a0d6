import winston from 'winston';

/** Keys whose values never reach a log line. */
const SECRET_KEYS = /secret|token|password|authorization|vpsie-auth|userdata/i;

const redact = winston.format((info) => {
  for (const key of Object.keys(info)) {
    if (SECRET_KEYS.test(key)) info[key] = '[redacted]';
  }
  return info;
});

const root = winston.createLogger({
  level: process.env.LOG_LEVEL ?? 'info',
  format: winston.format.combine(redact(), winston.format.timestamp(), winston.format.json()),
  transports: [new winston.transports.Console({ stderrLevels: ['error', 'warn', 'info', 'debug'] })],
});

export type Logger = winston.Logger;

/** A structured JSON logger carrying `component` and any other context fields on every line. */
export function logger(component: string, context: Record<string, unknown> = {}): Logger {
  return root.child({ component, ...context });
}
