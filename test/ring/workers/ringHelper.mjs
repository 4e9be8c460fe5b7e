// A small helper thread for the rings' wake-up tests: after `delayMs`, does one thing to the ring
// in `sab` and exits.
//   inbound-commit: commits one frame (tag 77, 4-byte payload)
//   inbound-wake:   calls wake() without a frame
//   broadcast-publish: claims and publishes one frame (tag 88, 4-byte payload)
import { parentPort, workerData } from 'node:worker_threads';
import { sleepMs } from './common.mjs';

const { InboundRing } = await import(new URL('../../../dist/src/ring/inboundRing.js', import.meta.url).href);
const { BroadcastRing } = await import(new URL('../../../dist/src/ring/broadcastRing.js', import.meta.url).href);

const { sab, action, delayMs } = workerData;
parentPort.postMessage({ type: 'ready' });
sleepMs(delayMs);
if (action === 'inbound-commit') {
  const ring = new InboundRing(sab);
  const at = ring.claim(4);
  ring.v.bytes.set([1, 2, 3, 4], at);
  ring.commit(at, 77, 4);
} else if (action === 'inbound-wake') {
  new InboundRing(sab).wake();
} else if (action === 'broadcast-publish') {
  const ring = new BroadcastRing(sab);
  const at = ring.claim(88, 4);
  ring.v.bytes.set([5, 6, 7, 8], at);
  ring.publishTo(ring.position());
} else {
  throw new Error(`unknown action ${action}`);
}
parentPort.postMessage({ type: 'done', at: performance.timeOrigin + performance.now() });
