/**
 * Order storage: one fixed 96-byte record per slot in a single ArrayBuffer, read through a
 * Float64Array view (ids, prices, quantities, times) and an Int32Array view (references and packed
 * enums), with a free list for reuse. One order's fields share two cache lines, so touching a
 * random order (a cancel, a maker at the head of a level) costs two misses, not one per field; and
 * there is no object per order for the garbage collector. Rare fields (stop price, GTD expiry,
 * the parameters as first submitted) live in sparse maps.
 *
 * Record layout (f64 index = slot * 12 + k; i32 index = slot * 24 + 16 + j):
 *   f64: 0 orderId, 1 priceTicks, 2 qtyLots, 3 filledLots, 4 cumNotional, 5 createdAtUs,
 *        6 updatedAtUs, 7 seq
 *   i32: 0 accountIdx, 1 symbolIdx, 2 prev, 3 next, 4 level, 5 acctPrev, 6 acctNext,
 *        7 packed enums: side 2 bits | ordType 3 | tif 3 | status 3 | postOnly 1 | stp 3 | hasClOrdId 1
 */
export const NIL = -1;

/** Unpack helpers for OrderStore.enums(). */
export const enumSide = (e: number) => e & 3;
export const enumOrdType = (e: number) => (e >>> 2) & 7;
export const enumTif = (e: number) => (e >>> 5) & 7;
export const enumStatus = (e: number) => (e >>> 8) & 7;
export const enumPostOnly = (e: number) => (e >>> 11) & 1;
export const enumStp = (e: number) => (e >>> 12) & 7;

const F = 12; // f64 per record
const I = 24; // i32 per record
const I0 = 16; // first i32 of a record
export const ORDER_RECORD_BYTES = F * 8;

const enum P {
  SIDE_SHIFT = 0,
  TYPE_SHIFT = 2,
  TIF_SHIFT = 5,
  STATUS_SHIFT = 8,
  POST_SHIFT = 11,
  STP_SHIFT = 12,
  HAS_CLORDID_SHIFT = 15,
}

export class OrderStore {
  capacity: number;
  private f: Float64Array;
  private i: Int32Array;
  /**
   * read through clOrdIdOf(): the record's flag says whether to look (saves a cache miss). A
   * number is a clOrdId restored from a snapshot and not read since: its offset in `restoredIds`
   * (a length char, then the id), made a string when first read. Restoring 1M ids then allocates
   * nothing per id (no young-generation strings for the GC to copy).
   */
  private clOrdIds: (string | number | undefined)[] = [];
  private restoredIds = '';
  stopPriceTicks = new Map<number, number>(); // slot -> stop price
  expireTimeUs = new Map<number, number>(); // slot -> GTD expiry
  /** slot -> [qty, price] as first submitted, recorded when a replace / STP changes them */
  original = new Map<number, [number, number]>();
  private freeHead = NIL;
  private used = 0;
  live = 0;

  constructor(capacity = 1 << 12) {
    this.capacity = capacity;
    const buf = new ArrayBuffer(capacity * ORDER_RECORD_BYTES);
    this.f = new Float64Array(buf);
    this.i = new Int32Array(buf);
    this.f.fill(0); // fault the pages in now, not one by one on the matching path
  }

  /** Slots ever handed out: every slot in use is below this. */
  highWater(): number {
    return this.used;
  }

  alloc(): number {
    let slot: number;
    if (this.freeHead !== NIL) {
      slot = this.freeHead;
      this.freeHead = this.i[slot * I + I0 + 3]!;
    } else {
      if (this.used === this.capacity) this.grow();
      slot = this.used++;
      this.clOrdIds.push(undefined);
    }
    const fb = slot * F;
    const f = this.f;
    f[fb] = 0;
    f[fb + 1] = 0;
    f[fb + 2] = 0;
    f[fb + 3] = 0;
    f[fb + 4] = 0;
    f[fb + 5] = 0;
    f[fb + 6] = 0;
    f[fb + 7] = 0;
    const ib = slot * I + I0;
    const a = this.i;
    a[ib] = 0;
    a[ib + 1] = 0;
    a[ib + 2] = NIL;
    a[ib + 3] = NIL;
    a[ib + 4] = NIL;
    a[ib + 5] = NIL;
    a[ib + 6] = NIL;
    a[ib + 7] = 0;
    this.live++;
    return slot;
  }

  free(slot: number): void {
    if (this.hasClOrdId(slot)) this.clOrdIds[slot] = undefined;
    this.f[slot * F] = 0;
    this.i[slot * I + I0 + 7] = 0;
    if (this.stopPriceTicks.size !== 0) this.stopPriceTicks.delete(slot);
    if (this.expireTimeUs.size !== 0) this.expireTimeUs.delete(slot);
    if (this.original.size !== 0) this.original.delete(slot);
    this.i[slot * I + I0 + 3] = this.freeHead;
    this.freeHead = slot;
    this.live--;
  }

  private grow(): void {
    const cap = Math.ceil(this.capacity * 1.5);
    const buf = new ArrayBuffer(cap * ORDER_RECORD_BYTES);
    const bytes = new Uint8Array(buf);
    bytes.set(new Uint8Array(this.f.buffer));
    bytes.fill(0, this.f.byteLength); // fault the new pages in now (see constructor)
    this.f = new Float64Array(buf);
    this.i = new Int32Array(buf);
    this.capacity = cap;
  }

  byteSize(): number {
    return this.capacity * ORDER_RECORD_BYTES;
  }

  // f64 fields
  orderId(s: number): number { return this.f[s * F]!; }
  setOrderId(s: number, v: number): void { this.f[s * F] = v; }
  priceTicks(s: number): number { return this.f[s * F + 1]!; }
  setPriceTicks(s: number, v: number): void { this.f[s * F + 1] = v; }
  qtyLots(s: number): number { return this.f[s * F + 2]!; }
  setQtyLots(s: number, v: number): void { this.f[s * F + 2] = v; }
  filledLots(s: number): number { return this.f[s * F + 3]!; }
  setFilledLots(s: number, v: number): void { this.f[s * F + 3] = v; }
  /** qty - filled */
  leaves(s: number): number { return this.f[s * F + 2]! - this.f[s * F + 3]!; }
  cumNotional(s: number): number { return this.f[s * F + 4]!; }
  setCumNotional(s: number, v: number): void { this.f[s * F + 4] = v; }
  createdAtUs(s: number): number { return this.f[s * F + 5]!; }
  setCreatedAtUs(s: number, v: number): void { this.f[s * F + 5] = v; }
  updatedAtUs(s: number): number { return this.f[s * F + 6]!; }
  setUpdatedAtUs(s: number, v: number): void { this.f[s * F + 6] = v; }
  seq(s: number): number { return this.f[s * F + 7]!; }
  setSeq(s: number, v: number): void { this.f[s * F + 7] = v; }
  /** updatedAt and seq together: every change of an order stamps both */
  touch(s: number, tsUs: number, seq: number): void {
    this.f[s * F + 6] = tsUs;
    this.f[s * F + 7] = seq;
  }

  // i32 fields
  accountIdx(s: number): number { return this.i[s * I + I0]!; }
  setAccountIdx(s: number, v: number): void { this.i[s * I + I0] = v; }
  symbolIdx(s: number): number { return this.i[s * I + I0 + 1]!; }
  setSymbolIdx(s: number, v: number): void { this.i[s * I + I0 + 1] = v; }
  prev(s: number): number { return this.i[s * I + I0 + 2]!; }
  setPrev(s: number, v: number): void { this.i[s * I + I0 + 2] = v; }
  next(s: number): number { return this.i[s * I + I0 + 3]!; }
  setNext(s: number, v: number): void { this.i[s * I + I0 + 3] = v; }
  level(s: number): number { return this.i[s * I + I0 + 4]!; }
  setLevel(s: number, v: number): void { this.i[s * I + I0 + 4] = v; }
  acctPrev(s: number): number { return this.i[s * I + I0 + 5]!; }
  setAcctPrev(s: number, v: number): void { this.i[s * I + I0 + 5] = v; }
  acctNext(s: number): number { return this.i[s * I + I0 + 6]!; }
  setAcctNext(s: number, v: number): void { this.i[s * I + I0 + 6] = v; }

  // packed enums
  private getBits(s: number, shift: number, mask: number): number {
    return (this.i[s * I + I0 + 7]! >>> shift) & mask;
  }
  private setBits(s: number, shift: number, mask: number, v: number): void {
    const k = s * I + I0 + 7;
    this.i[k] = (this.i[k]! & ~(mask << shift)) | ((v & mask) << shift);
  }
  /** All enums at once (a new order): one store instead of six read-modify-writes. */
  initEnums(s: number, side: number, ordType: number, tif: number, status: number, postOnly: number, stp: number): void {
    this.i[s * I + I0 + 7] =
      (side << P.SIDE_SHIFT) | (ordType << P.TYPE_SHIFT) | (tif << P.TIF_SHIFT) | (status << P.STATUS_SHIFT) | (postOnly << P.POST_SHIFT) | (stp << P.STP_SHIFT);
  }
  /** The packed enums, for readers that need several (see the unpack helpers below). */
  enums(s: number): number {
    return this.i[s * I + I0 + 7]!;
  }
  hasClOrdId(s: number): boolean { return this.getBits(s, P.HAS_CLORDID_SHIFT, 1) === 1; }
  clOrdIdOf(s: number): string | undefined {
    if (!this.hasClOrdId(s)) return undefined;
    const v = this.clOrdIds[s];
    return typeof v === 'string' ? v : this.readRestoredClOrdId(s, v!);
  }
  setClOrdId(s: number, v: string | undefined): void {
    this.clOrdIds[s] = v;
    this.setBits(s, P.HAS_CLORDID_SHIFT, 1, v === undefined ? 0 : 1);
  }
  /** Snapshot restore: the slot's clOrdId is the one at `at` of `text` ([length char, id chars]). */
  setRestoredClOrdId(s: number, text: string, at: number): void {
    // one restore per store: offsets of an earlier text would point into this one
    if (this.restoredIds !== text) {
      if (this.restoredIds !== '') throw new Error('order store: restored clOrdIds from two snapshots');
      this.restoredIds = text;
    }
    this.clOrdIds[s] = at;
    this.setBits(s, P.HAS_CLORDID_SHIFT, 1, 1);
  }
  /** Where a restored, not yet read clOrdId sits in `restoredClOrdIds()` (-1: none or already a string). */
  restoredClOrdIdAt(s: number): number {
    const v = this.clOrdIds[s];
    return typeof v === 'number' && this.hasClOrdId(s) ? v : -1;
  }
  restoredClOrdIds(): string {
    return this.restoredIds;
  }
  private readRestoredClOrdId(s: number, at: number): string {
    const t = this.restoredIds;
    // a substring of 13+ chars is a slice of `t`: no copy
    const id = t.substring(at + 1, at + 1 + t.charCodeAt(at));
    this.clOrdIds[s] = id;
    return id;
  }
  side(s: number): number { return this.getBits(s, P.SIDE_SHIFT, 3); }
  setSide(s: number, v: number): void { this.setBits(s, P.SIDE_SHIFT, 3, v); }
  ordType(s: number): number { return this.getBits(s, P.TYPE_SHIFT, 7); }
  setOrdType(s: number, v: number): void { this.setBits(s, P.TYPE_SHIFT, 7, v); }
  tif(s: number): number { return this.getBits(s, P.TIF_SHIFT, 7); }
  setTif(s: number, v: number): void { this.setBits(s, P.TIF_SHIFT, 7, v); }
  status(s: number): number { return this.getBits(s, P.STATUS_SHIFT, 7); }
  setStatus(s: number, v: number): void { this.setBits(s, P.STATUS_SHIFT, 7, v); }
  postOnly(s: number): number { return this.getBits(s, P.POST_SHIFT, 1); }
  setPostOnly(s: number, v: number): void { this.setBits(s, P.POST_SHIFT, 1, v); }
  stp(s: number): number { return this.getBits(s, P.STP_SHIFT, 7); }
  setStp(s: number, v: number): void { this.setBits(s, P.STP_SHIFT, 7, v); }
}
