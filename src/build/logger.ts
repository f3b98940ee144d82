import { appendFile } from 'node:fs/promises';

/** Appends timestamped lines to a build log (build.log, a Debian rebuild's cvm-measure.log). */
export class Logger {
  constructor(readonly file: string) {}
  async line(text: string): Promise<void> {
    await appendFile(this.file, `${new Date().toISOString()} ${text}\n`);
  }
}
