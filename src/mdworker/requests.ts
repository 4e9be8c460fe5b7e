/** What a gateway thread asks the market-data worker (over its MessagePort), and the answers. */

export interface MdRequest {
  id: number;
  /** `subscribe`: the snapshot goes into the market-data ring, among the updates; the rest are REST bodies answered by message */
  what: 'subscribe' | 'ticker' | 'l2' | 'l3' | 'trades' | 'candles';
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
