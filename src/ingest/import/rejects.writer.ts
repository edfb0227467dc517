import { createWriteStream, type WriteStream } from 'node:fs';
import { once } from 'node:events';
import type { FieldIssue } from '../event.contract';

export interface RejectEntry {
  line: number;
  eventId: string | null;
  errors: FieldIssue[];
}

/** NDJSON of rejected rows; the file is created only when the first row is rejected. */
export class RejectsWriter {
  private out?: WriteStream;
  count = 0;

  constructor(readonly path: string) {}

  async write(entry: RejectEntry): Promise<void> {
    this.out ??= createWriteStream(this.path, { flags: 'w' });
    this.count += 1;
    if (!this.out.write(`${JSON.stringify({ line: entry.line, eventId: entry.eventId, errors: entry.errors })}\n`)) {
      await once(this.out, 'drain');
    }
  }

  async close(): Promise<void> {
    if (!this.out) return;
    const out = this.out;
    this.out = undefined;
    await new Promise<void>((resolve, reject) => out.end((err?: Error | null) => (err ? reject(err) : resolve())));
  }
}
