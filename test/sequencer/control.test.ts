import { describe, expect, it } from 'vitest';
import { FSYNC_BUCKETS, SequencerControl } from '../../src/sequencer/control.js';

describe('SequencerControl fsync statistics', () => {
  it('counts each sync in its power-of-two latency bucket, visible from another view of the same memory', () => {
    const c = SequencerControl.create();
    const other = new SequencerControl(c.sab); // what another thread sees
    for (const us of [0, 1, 2, 3, 250, 255, 256, 4_000, 20_000, 1e9]) c.recordFsync(us, 100);
    const h = other.fsyncHistogram();
    expect(h).toHaveLength(FSYNC_BUCKETS);
    expect(h[0]).toBe(2); // 0 and 1 µs
    expect(h[1]).toBe(2); // 2, 3
    expect(h[7]).toBe(2); // 250, 255: [128, 256)
    expect(h[8]).toBe(1); // 256
    expect(h[11]).toBe(1); // 4,000: [2048, 4096)
    expect(h[14]).toBe(1); // 20,000: [16384, 32768)
    expect(h[FSYNC_BUCKETS - 1]).toBe(1); // beyond the last bound: clamped
    expect(h.reduce((a, b) => a + b, 0)).toBe(other.stats().fsyncs);
    expect(other.stats()).toMatchObject({ fsyncs: 10, journalBytes: 1000, fsyncUsMax: 1e9 });
  });
});
