/** What a gateway thread asks the market-data worker (over its MessagePort), and the answers. */

export interface MdRequest {
  id: number;
  /**
   * `subscribe`: the snapshot goes into the market-data ring, among the updates, and the topic's
   * updates are encoded in `format` from then on; `unsubscribe` (no answer) ends that; the rest are
   * REST bodies answered by message
   */
  what: 'subscribe' | 'unsubscribe' | 'ticker' | 'l2' | 'l3' | 'trades' | 'candles';
  format?: 'msgpack' | 'json';
  /** a channel (`l2`, `candles:1m`, ...): for `subscribe` and `candles` */
  channel: string;
  symbol: string;
  depth?: number;
  limit?: number;
  fromMs?: number;
  toMs?: number;
}

export interface MdReply {
  id: number;
  status: number;
  body?: unknown;
  /** an error: the engine Code and a message */
  code?: number;
  message?: string;
}
