/**
 * Who is calling: API keys (random 32-byte secrets, stored only as SHA-256 hashes in the engine's
 * accounts, so a standby has them too), the admin token, and per-key rate limits.
 *
 * Keys are high-entropy, so an unsalted SHA-256 is what GitHub- and Stripe-style tokens use: a
 * stolen hash list does not give the keys. The key → account map is cached per gateway thread
 * (keys never change owner); unknown keys are remembered briefly so a flood of bad keys does not
 * reach the sequencer.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Dispatcher } from './dispatcher.js';

export const hashKey = (key: string): string => createHash('sha256').update(key).digest('hex');

/** A new API key: "sk_" + 43 base64url characters (256 bits). */
export const newApiKey = (): string => `sk_${randomBytes(32).toString('base64url')}`;

const KEY_RE = /^[A-Za-z0-9_-]{16,128}$/;
const CACHE_MAX = 100_000;
const NEGATIVE_TTL_MS = 2_000;

export class KeyCache {
  private readonly known = new Map<string, number>();
  private readonly unknown = new Map<string, number>();

  constructor(private readonly dispatcher: Dispatcher) {}

  /** True when the key is known to this thread (no sequencer query needed). */
  isCached(key: string): boolean {
    return this.known.has(key);
  }

  /** The account id of the key, null if no account has it; undefined if the sequencer did not answer. */
  async account(key: string): Promise<number | null | undefined> {
    if (!KEY_RE.test(key)) return null;
    const hit = this.known.get(key);
    if (hit !== undefined) return hit;
    const now = performance.now();
    const miss = this.unknown.get(key);
    if (miss !== undefined && miss > now) return null;
    const r = await this.dispatcher.query({ q: 'accountByKeyHash', keyHash: hashKey(key) });
    if (r.kind !== 'answer') return undefined;
    if (r.code !== 0) {
      if (this.unknown.size >= CACHE_MAX) this.unknown.clear();
      this.unknown.set(key, now + NEGATIVE_TTL_MS);
      return null;
    }
    const { accountId } = JSON.parse(r.json) as { accountId: number };
    if (this.known.size >= CACHE_MAX) this.known.clear();
    this.known.set(key, accountId);
    return accountId;
  }
}

/** Constant-time comparison of a presented admin token with the configured one. */
export function adminTokenMatches(presented: string, expectedHash: Buffer): boolean {
  return timingSafeEqual(createHash('sha256').update(presented).digest(), expectedHash);
}

/** Token buckets per key: `ratePerSec` sustained, `burst` at once; `take` answers the wait in ms (0 = allowed). */
export class RateLimiter {
  private readonly tokens = new Map<string, number>();
  private readonly stamp = new Map<string, number>();

  constructor(
    private readonly ratePerSec: number,
    private readonly burst: number,
  ) {}

  take(key: string): number {
    const now = performance.now();
    const last = this.stamp.get(key);
    let t = last === undefined ? this.burst : Math.min(this.burst, this.tokens.get(key)! + ((now - last) * this.ratePerSec) / 1000);
    if (this.tokens.size > CACHE_MAX) this.prune(now);
    if (t >= 1) {
      t -= 1;
      this.tokens.set(key, t);
      this.stamp.set(key, now);
      return 0;
    }
    this.tokens.set(key, t);
    this.stamp.set(key, now);
    return Math.ceil(((1 - t) * 1000) / this.ratePerSec);
  }

  /** forget buckets that have refilled completely (they equal a fresh bucket) */
  private prune(now: number): void {
    const full = (this.burst * 1000) / this.ratePerSec;
    for (const [k, at] of this.stamp)
      if (now - at >= full) {
        this.stamp.delete(k);
        this.tokens.delete(k);
      }
  }
}
