import type { LoggerService } from '@nestjs/common';

/** Records what an app logs, so a test can say "nothing at error level" or "said once". */
export class RecordingLogger implements LoggerService {
  readonly entries: { level: string; message: string }[] = [];
  log(message: unknown) {
    this.add('log', message);
  }
  error(message: unknown) {
    this.add('error', message);
  }
  warn(message: unknown) {
    this.add('warn', message);
  }
  debug(message: unknown) {
    this.add('debug', message);
  }
  verbose(message: unknown) {
    this.add('verbose', message);
  }
  fatal(message: unknown) {
    this.add('fatal', message);
  }
  errors(): string[] {
    return this.entries.filter((e) => e.level === 'error' || e.level === 'fatal').map((e) => e.message);
  }
  /** How many entries at `level` contain `text`. */
  count(level: string, text: string): number {
    return this.entries.filter((e) => e.level === level && e.message.includes(text)).length;
  }
  private add(level: string, message: unknown) {
    this.entries.push({ level, message: message instanceof Error ? message.stack! : String(message) });
  }
}
