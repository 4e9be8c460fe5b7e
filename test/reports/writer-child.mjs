// The report writer the crash test kills: applies the commands of a JSON-lines file (one array of
// decoded events per line, seq = line number) to a ReportWriter with small batches, and prints
// `FLUSHED <seq>` after each batch it committed. Writes to a pipe are synchronous on Linux, so a
// line the parent read was committed before the kill.
//
//   node writer-child.mjs <db> <events.jsonl> <batchEvents>
//
// Runs the compiled writer (dist/, as the crash suite does). Never outlives its parent: exits when
// stdin closes.
import { readFileSync } from 'node:fs';
import { ReportWriter } from '../../dist/src/reports/writer.js';

const [db, eventsFile, batch] = process.argv.slice(2);
process.stdin.on('close', () => process.exit(0));
process.stdin.resume();
const lines = readFileSync(eventsFile, 'utf8').split('\n').filter((l) => l !== '');
const w = new ReportWriter(db, { batchEvents: Number(batch) });
process.stdout.write(`START ${w.lastSeq}\n`);
// round after round over the same commands would be skipped: one pass, then wait to be killed
for (let i = 0; i < lines.length; i++) {
  const before = w.flushedSeq;
  w.apply(JSON.parse(lines[i]), i + 1);
  if (w.flushedSeq !== before) process.stdout.write(`FLUSHED ${w.flushedSeq}\n`);
}
w.flush();
process.stdout.write(`DONE ${w.flushedSeq}\n`);
