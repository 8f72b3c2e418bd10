// One root winston logger; components take child loggers. Messages are constant
// strings with values in fields. Nothing here is called per block or per record:
// byte paths count into metrics instead.
import winston from 'winston';

export type Logger = winston.Logger;

export function createLogger(level: string, format: string): Logger {
  return winston.createLogger({
    level,
    format: format === 'text'
      ? winston.format.combine(winston.format.timestamp(), winston.format.printf((info) => {
        const { level: lvl, message, timestamp, ...rest } = info;
        const fields = Object.keys(rest).length > 0 ? ` ${JSON.stringify(rest)}` : '';
        return `${String(timestamp)} ${lvl} ${String(message)}${fields}`;
      }))
      : winston.format.combine(winston.format.timestamp(), winston.format.json()),
    transports: [new winston.transports.Console({ stderrLevels: ['error', 'warn', 'info', 'debug'] })],
  });
}

/** A logger that drops everything (unit tests of components). */
export function silentLogger(): Logger {
  return winston.createLogger({ silent: true, transports: [new winston.transports.Console({ silent: true })] });
}
