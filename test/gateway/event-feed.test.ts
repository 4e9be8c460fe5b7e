/** The account-message object the gateways build from a record equals the generic decoder's, field for field. */
import { expect, it } from 'vitest';
import { decodeEvents, Ev, EVENT_LENGTH, EventLog } from '../../src/engine/events.js';
import { messageEvent } from '../../src/gateway/eventFeed.js';

it('messageEvent equals decodeEvents for execution reports and cancel rejects, with and without a clOrdId', () => {
  for (const type of [Ev.EXEC, Ev.CANCEL_REJECT]) {
    for (const cl of ['abc-1', null]) {
      const log = new EventLog();
      const at = log.begin(type);
      const len = EVENT_LENGTH[type]!;
      // every field a distinct value (so a swapped pair of fields shows), the string field an index or -1
      for (let k = 0; k < len - 3; k++) log.buf[at + k] = 1000 + k;
      const clAt = at + (type === Ev.EXEC ? 21 : 2);
      log.buf[clAt] = cl === null ? -1 : log.str(cl);
      const [expected] = decodeEvents(log);
      const rec = log.buf.slice(at - 3, at - 3 + len);
      expect(messageEvent(rec, cl)).toEqual(expected);
      expect(Object.keys(messageEvent(rec, cl))).toEqual(Object.keys(expected!));
    }
  }
});
