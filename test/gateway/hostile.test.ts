/**
 * SPEC §6 against the REST gateway: malformed, mistyped, oversized and flooding input. Each gets a
 * 4xx with a stable code, the server stays up, and nothing changes: balances, the book and open
 * orders are compared before / after over HTTP, and at the end the journal is replayed up to
 * the seq just before the hostile input and up to the seq just after it: the state hashes must
 * be equal (rejected commands that reach the engine are journaled, but change no state).
 */
import { connect } from 'node:net';
import { rmSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { call, startTestExchange, type TestExchange } from './server.js';
import { admin, balances, newAccount, newSymbol, order, replayHash, type Acct } from './rest-helpers.js';

const MAX_BODY = 8192;
let ex: TestExchange;
let sym: string;
let a: Acct;
let b: Acct;
const resting: number[] = [];

beforeAll(async () => {
  ex = await startTestExchange({ durability: 'batch', maxBodyBytes: MAX_BODY });
  sym = await newSymbol(ex, 'H');
  a = await newAccount(ex, 'ha', { USD: '5000.00', [sym]: '50' });
  b = await newAccount(ex, 'hb', { USD: '5000.00', [sym]: '50' });
  resting.push((await order(ex, a.apiKey, { symbol: sym, side: 'buy', type: 'limit', qty: '5', price: '10.00', clOrdId: 'keep-1' })).body.orderId);
  resting.push((await order(ex, a.apiKey, { symbol: sym, side: 'sell', type: 'limit', qty: '7', price: '12.00', clOrdId: 'keep-2' })).body.orderId);
  resting.push((await order(ex, b.apiKey, { symbol: sym, side: 'buy', type: 'limit', qty: '3', price: '9.50' })).body.orderId);
  // a fill, so lastPx and positions are not trivial
  await order(ex, b.apiKey, { symbol: sym, side: 'buy', type: 'limit', qty: '2', price: '12.00' });
});

afterAll(async () => {
  if (ex === undefined) return;
  await ex.stop();
  rmSync(ex.dataDir, { recursive: true, force: true });
});

/** Everything a rejected request must leave as it was. */
async function state() {
  const l3 = (await call(ex.url, 'GET', `/v1/marketdata/orderBook/L3?symbol=${sym}`)).body;
  const aapl = (await call(ex.url, 'GET', '/v1/marketdata/orderBook/L3?symbol=AAPL')).body;
  const openA = (await call(ex.url, 'GET', '/v1/orders', { key: a.apiKey })).body.orders;
  const openB = (await call(ex.url, 'GET', '/v1/orders', { key: b.apiKey })).body.orders;
  const ticker = (await call(ex.url, 'GET', `/v1/marketdata/ticker?symbol=${sym}`)).body;
  const strip = (x: { seq?: number; ts?: string }) => ({ ...x, seq: 0, ts: '' });
  return {
    balances: [await balances(ex, a.apiKey), await balances(ex, b.apiKey), await balances(ex, ex.demo.apiKey)],
    l3: strip(l3),
    aapl: strip(aapl),
    open: [openA, openB],
    ticker: strip(ticker),
  };
}

const lastSeq = async (): Promise<number> => (await admin(ex, 'GET', '/v1/admin/status')).body.lastSeq as number;

/** mulberry32: deterministic "random" bytes */
function rng(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

type Case = { name: string; method?: string; path?: string; raw?: string | Uint8Array; body?: unknown; key?: string | null; codes: string[]; status?: number };

const post = (raw: string | Uint8Array, codes: string[], name = typeof raw === 'string' ? raw.slice(0, 80) : `bytes ${raw.length}`): Case => ({ name, raw, codes });
const valid = () => ({ symbol: sym, side: 'buy', type: 'limit', qty: '1', price: '10.00' });
const withField = (field: string, v: unknown, codes: string[]): Case => ({ name: `${field}=${JSON.stringify(v)?.slice(0, 60)}`, body: { ...valid(), [field]: v }, codes });
const rawWith = (field: string, jsonText: string, codes: string[]): Case => {
  const fields = Object.entries(valid())
    .filter(([k]) => k !== field)
    .map(([k, v]) => `"${k}":${JSON.stringify(v)}`);
  fields.push(`"${field}":${jsonText}`);
  return post(`{${fields.join(',')}}`, codes, `${field}:${jsonText.slice(0, 60)}`);
};

const INVALID = ['INVALID_REQUEST'];
const QTY = ['INVALID_QUANTITY'];
const PRICE = ['INVALID_PRICE'];

/** Bad input the gateway itself must refuse: it never reaches the sequencer (no seq is used). */
function gatewayRejects(): Case[] {
  const cases: Case[] = [];
  const r = rng(42);
  for (let i = 0; i < 40; i++) {
    const n = 1 + Math.floor(r() * 300);
    const bytes = new Uint8Array(n);
    for (let k = 0; k < n; k++) bytes[k] = Math.floor(r() * 256);
    cases.push(post(bytes, INVALID, `random bytes #${i}`));
  }
  // random printable junk, and junk that starts like JSON
  for (let i = 0; i < 20; i++) {
    let s = i % 2 === 0 ? '{"' : '';
    for (let k = 0; k < 1 + Math.floor(r() * 120); k++) s += String.fromCharCode(32 + Math.floor(r() * 95));
    cases.push(post(s, INVALID, `junk #${i}`));
  }
  const full = JSON.stringify({ ...valid(), clOrdId: 'trunc' });
  for (let cut = 0; cut < full.length; cut++) cases.push(post(full.slice(0, cut), INVALID, `truncated at ${cut}`));

  for (const v of [{}, [], true, false, -1, '-1', '1e3', 'NaN', 'Infinity', '-Infinity', '0x10', ' 1', '1 ', '', '１', '+1', '1.5', 0, '0', '-0', '1,000', '9'.repeat(400), '0.'.padEnd(300, '0') + '1', ['1'], { value: '1' }])
    cases.push(withField('qty', v, QTY));
  for (const t of ['1e3', '1E+3', '-1', '-0', '1.5', '0', '9'.repeat(400), '1' + '0'.repeat(399) + '.0', '0.' + '0'.repeat(350) + '1', '10e-1'])
    cases.push(rawWith('qty', t, QTY));
  for (const t of ['NaN', 'Infinity', '-Infinity', 'undefined', '01', '.5', '1.', '+1', '0x1', '1_000', "'1'"]) cases.push(rawWith('qty', t, INVALID));
  cases.push(withField('qty', null, QTY));
  for (const v of [{}, [], true, -10, '-10.00', '10.001', '1e1', 'NaN', '', '10,00', '9'.repeat(400), 0, '99999999999999999999.00']) cases.push(withField('price', v, PRICE));
  for (const t of ['1e1', '10.001', '-10', '9'.repeat(400), '10.00000000000000000000001']) cases.push(rawWith('price', t, PRICE));
  for (const v of ['BUY', 'Buy', 1, null, '', ['buy'], { side: 'buy' }, 'buy ', 'buy\u0000']) cases.push(withField('side', v, INVALID));
  for (const v of ['LIMIT', 'iceberg', 2, '', null, 'limit\n']) cases.push(withField('type', v, INVALID));
  for (const v of [123, '', null, {}, ['AAPL'], true]) cases.push(withField('symbol', v, INVALID));
  for (const v of ['aapl', 'AAPL\u0000', 'NOPE', 'x'.repeat(3000), '../AAPL', '__proto__', 'constructor', 'toString', 'AAPL ', '\ud800']) cases.push(withField('symbol', v, ['UNKNOWN_SYMBOL']));
  for (const [f, v] of [['tif', 'gtc'], ['tif', 'GTX'], ['tif', 1], ['stp', 'none'], ['stp', 0], ['postOnly', 'true'], ['postOnly', 1], ['postOnly', {}], ['expireTime', 'tomorrow'], ['expireTime', -1], ['expireTime', 1e20], ['expireTime', '2030-01-01'], ['expireTime', {}], ['tif', '__proto__'], ['tif', 'constructor']] as [string, unknown][])
    cases.push(withField(f, v, INVALID));
  for (const v of ['', 'x'.repeat(37), 'a b', 'ä', 'a/b', '../x', 'a\u0000', 123, true, {}, ['a'], '\ud800', 'a;DROP TABLE']) cases.push(withField('clOrdId', v, INVALID));
  // unknown fields, prototype keys, duplicate keys, nesting, trailing data, wrong top level
  for (const k of ['foo', '__proto__', 'constructor', 'prototype', 'accountId', 'orderId', 'Symbol', 'qty ', ''])
    cases.push(post(JSON.stringify(valid()).replace(/}$/, `,${JSON.stringify(k)}:{"x":1}}`), INVALID, `unknown field ${JSON.stringify(k)}`));
  cases.push(post(`{"symbol":"${sym}","side":"buy","type":"limit","qty":"1","qty":"1000000","price":"10.00"}`, INVALID, 'duplicate qty'));
  cases.push(post(`{"symbol":"${sym}","symbol":"${sym}","side":"buy","type":"limit","qty":"1","price":"10.00"}`, INVALID, 'duplicate symbol (same value)'));
  cases.push(post(`{"symbol":"${sym}","side":"buy","type":"limit","qty":"1","price":"10.00","\\u0071ty":"2"}`, INVALID, 'duplicate key spelt with an escape'));
  for (const depth of [33, 100, 1200]) {
    cases.push(post(`{"symbol":${'['.repeat(depth)}${']'.repeat(depth)}}`, INVALID, `array nesting ${depth}`));
    cases.push(post(`${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`, INVALID, `object nesting ${depth}`));
  }
  cases.push(post('['.repeat(MAX_BODY - 10), INVALID, 'unclosed nesting near the size limit'));
  for (const t of [`${JSON.stringify(valid())} x`, `${JSON.stringify(valid())}${JSON.stringify(valid())}`, `${JSON.stringify(valid())},`, '[]', '"order"', '1', 'null', 'true', '  ', '\ufeff' + '\ufeff' + JSON.stringify(valid()), "{'symbol':'AAPL'}", '{"symbol":"AAPL",}', '{symbol:"AAPL"}'])
    cases.push(post(t, INVALID));
  cases.push(post(`{"symbol":"${sym}\u0001"}`, INVALID, 'control character in a string'));
  cases.push(post('{"symbol":"\\x41"}', INVALID, 'bad escape'));
  cases.push(post('{"symbol":"\\u12"}', INVALID, 'short unicode escape'));
  // not UTF-8: lone continuation, overlong '/', a UTF-16 surrogate in UTF-8, truncated sequence, Latin-1
  for (const bytes of [[0x7b, 0x80, 0x7d], [0x7b, 0x22, 0xc0, 0xaf, 0x22, 0x7d], [0x7b, 0x22, 0xed, 0xa0, 0x80, 0x22, 0x7d], [0x7b, 0x22, 0xe2, 0x82], [0x7b, 0x22, 0x73, 0xfc, 0x22, 0x7d], [0xff, 0xfe, 0x7b, 0x00, 0x7d, 0x00]])
    cases.push(post(new Uint8Array(bytes), INVALID, `non-UTF-8 ${bytes.map((x) => x.toString(16)).join(' ')}`));
  cases.push({ name: 'empty body', raw: '', codes: INVALID });

  // other endpoints
  const ids = ['0', '-1', '1e3', '0x1', '01', '1.0', '99999999999999999999', '%00', 'abc', '1%20', String(Number.MAX_SAFE_INTEGER + 2)];
  for (const id of ids) {
    cases.push({ name: `GET order ${id}`, method: 'GET', path: `/v1/order/${id}`, codes: ['NOT_FOUND'] });
    cases.push({ name: `DELETE order ${id}`, method: 'DELETE', path: `/v1/order/${id}`, codes: ['NOT_FOUND'] });
    cases.push({ name: `PATCH order ${id}`, method: 'PATCH', path: `/v1/order/${id}`, body: { qty: '1' }, codes: ['NOT_FOUND'] });
  }
  for (const q of ['clOrdId=', 'clOrdId=a%20b', `clOrdId=${'x'.repeat(37)}`, 'clOrdId=%C3%A4', 'clordid=keep-1', 'clOrdId=%00'])
    cases.push({ name: `DELETE /v1/order?${q}`, method: 'DELETE', path: `/v1/order?${q}`, codes: INVALID });
  for (const body of ['{"qty":"1","qty":"2"}', '{"qty":1e3}', '{"qty":"-1"}', '{"price":"10.001"}', '{"qty":"1","side":"sell"}', '{"clOrdId":"bad id"}', '[1]', '', 'not json', '{"qty":{}}'])
    cases.push({ name: `PATCH keep-1 ${body}`, method: 'PATCH', path: `/v1/order/${resting[0]}`, raw: body, codes: ['INVALID_REQUEST', 'INVALID_QUANTITY', 'INVALID_PRICE'] });
  for (const q of ['limit=0', 'limit=-1', 'limit=1e3', 'limit=99999', 'limit=', 'cursor=-5', 'cursor=abc', 'cursor=1e3', 'status=OPEN', 'status=', 'status=closed&cursor=%21%21', 'status=all&limit=0', 'status=closed&symbol=NOPE'])
    cases.push({ name: `GET /v1/orders?${q}`, method: 'GET', path: `/v1/orders?${q}`, codes: [...INVALID, 'UNKNOWN_SYMBOL'] });
  for (const q of ['limit=0', 'limit=1001', 'cursor=%00', `cursor=${'a'.repeat(65)}`, 'startTime=-1', 'endTime=1e9', 'orderId=0', 'orderId=x', 'symbol=NOPE'])
    cases.push({ name: `GET /v1/execution?${q}`, method: 'GET', path: `/v1/execution?${q}`, codes: [...INVALID, 'UNKNOWN_SYMBOL'] });
  for (const q of [`symbol=${sym}&startTime=x`, `symbol=${sym}&startTime=0&cursor=%25`, `symbol=${sym}&limit=0`, 'symbol=NOPE&startTime=0'])
    cases.push({ name: `trades ?${q}`, method: 'GET', path: `/v1/marketdata/trades?${q}`, key: null, codes: ['INVALID_REQUEST', 'UNKNOWN_SYMBOL'] });
  for (const q of ['', 'symbol=', 'symbol=%00', `symbol=${sym}&depth=0`, `symbol=${sym}&depth=-1`, `symbol=${sym}&depth=1e2`, `symbol=${sym}&depth=99999`])
    cases.push({ name: `L2 ?${q}`, method: 'GET', path: `/v1/marketdata/orderBook/L2?${q}`, key: null, codes: ['INVALID_REQUEST', 'UNKNOWN_SYMBOL'] });
  // auth: bad keys of every shape
  for (const key of ['x', 'sk_' + 'A'.repeat(200), 'sk_!!!!!!!!!!!!!!!!!!!!!!', a.apiKey + 'x', a.apiKey.slice(0, -1), a.apiKey.toUpperCase(), '\u00e9'.repeat(20)])
    cases.push({ name: `bad key ${key.slice(0, 20)}`, method: 'POST', path: '/v1/order', body: valid(), key, codes: ['UNAUTHORIZED'] });
  cases.push({ name: 'huge authorization header', method: 'GET', path: '/v1/account', key: 'k'.repeat(3000), codes: ['UNAUTHORIZED'] });

  // admin with hostile bodies (the admin token is valid): refused before the sequencer
  const acct = `/v1/admin/accounts/${a.accountId}`;
  for (const body of [
    '{"asset":"USD","amount":"1e3","transferId":"h1"}',
    '{"asset":"USD","amount":1e3,"transferId":"h1"}',
    '{"asset":"USD","amount":"-5","transferId":"h1"}',
    '{"asset":"USD","amount":"0.001","transferId":"h1"}',
    `{"asset":"USD","amount":"${'9'.repeat(400)}","transferId":"h1"}`,
    '{"asset":"USD","amount":"NaN","transferId":"h1"}',
    '{"asset":"USD","amount":{},"transferId":"h1"}',
    '{"asset":"USD","amount":"1","transferId":5}',
    '{"asset":"USD","amount":"1"}',
    '{"asset":"USD","amount":"1","transferId":"h1","extra":1}',
    '{"asset":"USD","asset":"BTC","amount":"1","transferId":"h1"}',
    '{"asset":["USD"],"amount":"1","transferId":"h1"}',
    '{"asset":"usd","amount":"1","transferId":"h1"}',
    '{"asset":"__proto__","amount":"1","transferId":"h1"}',
    'garbage',
  ])
    cases.push({ name: `deposit ${body.slice(0, 60)}`, method: 'POST', path: `${acct}/deposit`, raw: body, key: ex.adminToken, codes: ['INVALID_REQUEST', 'INVALID_QUANTITY'] });
  for (const [path, body] of [
    ['/v1/admin/accounts/abc/deposit', '{"asset":"USD","amount":"1","transferId":"h2"}'],
    ['/v1/admin/accounts/-1/deposit', '{"asset":"USD","amount":"1","transferId":"h2"}'],
    ['/v1/admin/accounts/1e3/disable', ''],
    [`${acct}/__proto__`, '{}'],
    [`${acct}/constructor`, '{}'],
  ] as [string, string][])
    cases.push({ name: `admin ${path}`, method: 'POST', path, raw: body, key: ex.adminToken, codes: ['NOT_FOUND'] });
  for (const state of ['__proto__', 'constructor', 'toString', 'hasOwnProperty', 'OPEN', '', 'halted ']) cases.push({ name: `state ${state}`, method: 'POST', path: `/v1/admin/symbols/${sym}/state`, body: { state }, key: ex.adminToken, codes: INVALID });
  for (const body of [{ state: 3 }, { state: 'open', extra: 1 }, { state: null }, {}, { name: 'x'.repeat(65) }])
    cases.push({ name: `state body ${JSON.stringify(body).slice(0, 40)}`, method: 'POST', path: `/v1/admin/symbols/${sym}/state`, body, key: ex.adminToken, codes: INVALID });
  for (const body of [{ name: 'x'.repeat(65) }, { name: '' }, { name: ['a'] }, { name: 'ok', apiKey: 'mine' }])
    cases.push({ name: `create account ${JSON.stringify(body).slice(0, 40)}`, method: 'POST', path: '/v1/admin/accounts', body, key: ex.adminToken, codes: INVALID });
  for (const body of [{ maxOpenOrders: 5, extra: true }, '[]', 'x'])
    cases.push({ name: `limits ${JSON.stringify(body)}`, method: 'PUT', path: `${acct}/limits`, ...(typeof body === 'string' ? { raw: body } : { body }), key: ex.adminToken, codes: INVALID });
  return cases;
}

/** Bad input the engine refuses (journaled as rejected commands, changing no state). */
function engineRejects(): Case[] {
  const acct = `/v1/admin/accounts/${a.accountId}`;
  return [
    { name: 'insufficient funds', body: { ...valid(), qty: '1000', price: '100.00' }, codes: ['INSUFFICIENT_FUNDS'] },
    { name: 'max qty', body: { ...valid(), qty: '100001' }, codes: ['MAX_QTY_EXCEEDED'] },
    { name: 'huge price: notional overflow', body: { ...valid(), price: '90071992547409.91' }, codes: ['MAX_NOTIONAL_EXCEEDED'] },
    { name: 'huge price × qty', body: { ...valid(), qty: '100000', price: '90071992547409.91' }, codes: ['MAX_NOTIONAL_EXCEEDED'] },
    { name: 'post-only crossing', body: { ...valid(), price: '12.00', postOnly: true }, codes: ['POST_ONLY_WOULD_TRADE'] },
    { name: 'market with a price', body: { symbol: sym, side: 'buy', type: 'market', qty: '1', price: '10.00' }, codes: PRICE },
    { name: 'market GTC', body: { symbol: sym, side: 'buy', type: 'market', qty: '1', tif: 'GTC' }, codes: INVALID },
    { name: 'stop without stop price', body: { symbol: sym, side: 'buy', type: 'stop', qty: '1' }, codes: PRICE },
    { name: 'GTD in the past', body: { ...valid(), tif: 'GTD', expireTime: '2001-01-01T00:00:00Z' }, codes: INVALID },
    { name: 'GTD without expireTime', body: { ...valid(), tif: 'GTD' }, codes: INVALID },
    { name: 'expireTime without GTD', body: { ...valid(), expireTime: '2999-01-01T00:00:00Z' }, codes: INVALID },
    { name: 'post-only IOC', body: { ...valid(), tif: 'IOC', postOnly: true }, codes: INVALID },
    { name: 'duplicate clOrdId, other params', body: { ...valid(), clOrdId: 'keep-1' }, codes: ['DUPLICATE_CLORDID'] },
    { name: 'replace to more than the funds', method: 'PATCH', path: `/v1/order/${resting[0]}`, body: { qty: '99999' }, codes: ['INSUFFICIENT_FUNDS'] },
    { name: 'replace to an existing clOrdId', method: 'PATCH', path: `/v1/order/${resting[0]}`, body: { qty: '4', clOrdId: 'keep-2' }, codes: ['DUPLICATE_CLORDID'] },
    { name: 'replace a sell to more shares than held', method: 'PATCH', path: `/v1/order/${resting[1]}`, body: { qty: '1000' }, codes: ['INSUFFICIENT_FUNDS'] },
    { name: 'withdraw too much', method: 'POST', path: `${acct}/withdraw`, body: { asset: 'USD', amount: '999999.00', transferId: 'hw-1' }, key: ex.adminToken, codes: ['INSUFFICIENT_FUNDS'] },
    { name: 'deposit to nobody', method: 'POST', path: '/v1/admin/accounts/424242/deposit', body: { asset: 'USD', amount: '1.00', transferId: 'hw-2' }, key: ex.adminToken, codes: ['NOT_FOUND'] },
    { name: 'transferId with bad characters', method: 'POST', path: `${acct}/deposit`, body: { asset: 'USD', amount: '1.00', transferId: 'a b' }, key: ex.adminToken, codes: INVALID },
    { name: 'long transferId', method: 'POST', path: `${acct}/deposit`, body: { asset: 'USD', amount: '1.00', transferId: 'x'.repeat(65) }, key: ex.adminToken, codes: INVALID },
    { name: 'deposit beyond 2^53 minor units', method: 'POST', path: `${acct}/deposit`, body: { asset: 'USD', amount: '90071992547409.91', transferId: 'hw-3' }, key: ex.adminToken, codes: ['INVALID_QUANTITY'] },
    { name: 'limits: bad maxOpenOrders', method: 'PUT', path: `${acct}/limits`, raw: '{"maxOpenOrders":1e400}', key: ex.adminToken, codes: INVALID },
    { name: 'limits: unknown symbol', method: 'PUT', path: `${acct}/limits`, body: { dailyQtyLimits: { NOPE: '1' } }, key: ex.adminToken, codes: ['UNKNOWN_SYMBOL'] },
    { name: 'limits: off-lot', method: 'PUT', path: `${acct}/limits`, body: { dailyQtyLimits: { [sym]: '0.5' } }, key: ex.adminToken, codes: ['INVALID_QUANTITY'] },
    { name: 'asset: bad name', method: 'POST', path: '/v1/admin/assets', body: { asset: 'a-b', decimals: 2 }, key: ex.adminToken, codes: INVALID },
    { name: 'asset: decimals 1e400', method: 'POST', path: '/v1/admin/assets', raw: '{"asset":"HOSTILE1","decimals":1e400}', key: ex.adminToken, codes: INVALID },
    { name: 'asset: decimals 2.5', method: 'POST', path: '/v1/admin/assets', raw: '{"asset":"HOSTILE1","decimals":2.5}', key: ex.adminToken, codes: INVALID },
    { name: 'asset: decimals huge integer', method: 'POST', path: '/v1/admin/assets', raw: `{"asset":"HOSTILE1","decimals":1${'0'.repeat(400)}}`, key: ex.adminToken, codes: INVALID },
    { name: 'asset exists', method: 'POST', path: '/v1/admin/assets', body: { asset: 'USD', decimals: 2 }, key: ex.adminToken, codes: ['ALREADY_EXISTS'] },
    { name: 'symbol exists', method: 'POST', path: '/v1/admin/symbols', body: { symbol: sym, base: sym, quote: 'USD', tickSize: '0.01', lotSize: '1', maxQty: '1', maxNotional: '1' }, key: ex.adminToken, codes: ['ALREADY_EXISTS'] },
    { name: 'symbol: deep config', method: 'POST', path: '/v1/admin/symbols', raw: `{"symbol":"HX1","base":"USD","quote":"BTC","tickSize":"1","lotSize":"1","maxQty":"1","maxNotional":"1","session":${'{"a":'.repeat(20)}1${'}'.repeat(20)}}`, key: ex.adminToken, codes: ['INVALID_CONFIG', 'INVALID_REQUEST'] },
    { name: 'symbol: tick off', method: 'POST', path: '/v1/admin/symbols', body: { symbol: 'HX2', base: 'BTC', quote: 'USD', tickSize: '0', lotSize: '1', maxQty: '1', maxNotional: '1' }, key: ex.adminToken, codes: ['INVALID_CONFIG', 'INVALID_REQUEST'] },
    { name: 'symbol: huge maxQty', method: 'POST', path: '/v1/admin/symbols', raw: `{"symbol":"HX3","base":"BTC","quote":"USD","tickSize":"1","lotSize":"0.01","maxQty":${'9'.repeat(30)},"maxNotional":"1"}`, key: ex.adminToken, codes: ['INVALID_CONFIG', 'INVALID_REQUEST'] },
    { name: 'symbol: same base and quote', method: 'POST', path: '/v1/admin/symbols', body: { symbol: 'HX4', base: 'USD', quote: 'USD', tickSize: '1', lotSize: '1', maxQty: '1', maxNotional: '1' }, key: ex.adminToken, codes: ['INVALID_CONFIG', 'INVALID_REQUEST'] },
    { name: 'symbol: lowercase', method: 'POST', path: '/v1/admin/symbols', body: { symbol: 'hx5', base: 'BTC', quote: 'USD', tickSize: '1', lotSize: '1', maxQty: '1', maxNotional: '1' }, key: ex.adminToken, codes: INVALID },
    { name: 'symbol: change tick', method: 'PATCH', path: `/v1/admin/symbols/${sym}`, body: { tickSize: '0.1' }, key: ex.adminToken, codes: ['INVALID_CONFIG'] },
    { name: 'symbol: bad band', method: 'PATCH', path: `/v1/admin/symbols/${sym}`, body: { priceBandPct: '-5' }, key: ex.adminToken, codes: ['INVALID_CONFIG'] },
    { name: 'symbol: unknown', method: 'PATCH', path: '/v1/admin/symbols/NOPE', body: { maxQty: '5' }, key: ex.adminToken, codes: ['UNKNOWN_SYMBOL'] },
  ];
}

async function send(c: Case) {
  const method = c.method ?? 'POST';
  const path = c.path ?? '/v1/order';
  const key = c.key === null ? undefined : (c.key ?? a.apiKey);
  return c.raw !== undefined ? call(ex.url, method, path, { key, rawBody: c.raw, headers: { 'content-type': 'application/json' } }) : call(ex.url, method, path, { key, body: c.body });
}

async function expectRefused(cases: Case[], concurrency = 8): Promise<void> {
  const failures: string[] = [];
  for (let i = 0; i < cases.length; i += concurrency) {
    await Promise.all(
      cases.slice(i, i + concurrency).map(async (c) => {
        const r = await send(c);
        const code = r.body?.error?.code;
        if (!(r.status >= 400 && r.status < 500) || !c.codes.includes(code) || typeof r.body.error.message !== 'string')
          failures.push(`${c.name}: ${r.status} ${JSON.stringify(r.body).slice(0, 200)} (want ${c.codes.join('|')})`);
      }),
    );
  }
  expect(failures).toEqual([]);
}

/** Raw bytes on a TCP connection; resolves with the answer, or '' when the server hangs up or stays silent for `ms`. */
function raw(bytes: string | Buffer, ms = 400, thenClose = false): Promise<string> {
  return new Promise<string>((resolve, reject) => {
    const s = connect(ex.port, '127.0.0.1');
    let out = '';
    const done = () => {
      clearTimeout(t);
      s.destroy();
      resolve(out);
    };
    const t = setTimeout(done, ms);
    s.on('data', (d) => {
      out += d.toString('latin1');
      // one answer is enough: do not wait for a kept-alive connection to idle out
      if (out.includes('\r\n\r\n')) setTimeout(done, 30);
    });
    s.on('close', done);
    s.on('error', (e: NodeJS.ErrnoException) => (e.code === 'ECONNRESET' || e.code === 'EPIPE' ? done() : reject(e)));
    s.write(bytes, () => {
      if (thenClose) s.end();
    });
  });
}

describe('hostile input', () => {
  let seqBefore = 0;
  let seqAfterGateway = 0;
  let seqAfterEngine = 0;
  let before: Awaited<ReturnType<typeof state>>;

  test('malformed requests are refused at the gateway with stable 4xx codes and use no seq', async () => {
    before = await state();
    seqBefore = await lastSeq();
    const cases = gatewayRejects();
    expect(cases.length).toBeGreaterThan(300);
    await expectRefused(cases);
    expect(await state()).toEqual(before);
    seqAfterGateway = await lastSeq();
    expect(seqAfterGateway).toBe(seqBefore);
  });

  test('business rejects reach the engine, are refused with their code and change nothing', async () => {
    await expectRefused(engineRejects(), 4);
    expect(await state()).toEqual(before);
    seqAfterEngine = await lastSeq();
    expect(seqAfterEngine).toBeGreaterThan(seqAfterGateway);
  });

  test('bodies over the limit: 413 PAYLOAD_TOO_LARGE, declared or chunked; oversized commands are refused, not 5xx', async () => {
    const big = JSON.stringify({ ...valid(), clOrdId: 'x'.repeat(MAX_BODY) });
    const r = await call(ex.url, 'POST', '/v1/order', { key: a.apiKey, rawBody: big });
    expect([r.status, r.body.error?.code]).toEqual([413, 'PAYLOAD_TOO_LARGE']);
    const adminBig = await admin(ex, 'POST', `/v1/admin/accounts/${a.accountId}/deposit`, { asset: 'USD', amount: '1', transferId: 'y'.repeat(MAX_BODY) });
    expect(adminBig.status).toBe(413);
    // chunked, no content-length: the limit holds while reading
    const chunk = 'a'.repeat(1000);
    let req = `POST /v1/order HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${a.apiKey}\r\nTransfer-Encoding: chunked\r\n\r\n`;
    for (let i = 0; i < 12; i++) req += `${(1000).toString(16)}\r\n${chunk}\r\n`;
    req += '0\r\n\r\n';
    const chunked = await raw(req);
    expect(chunked).toMatch(/^HTTP\/1\.1 413/);
    // admin bodies under the HTTP limit but too large for one command: a 4xx, never an "outcome unknown" 5xx
    const padded = await admin(ex, 'POST', `/v1/admin/accounts/${a.accountId}/deposit`, { asset: 'USD', amount: '1', transferId: 'z'.repeat(MAX_BODY - 100) });
    expect(padded.status).toBeGreaterThanOrEqual(400);
    expect(padded.status).toBeLessThan(500);
    expect(await state()).toEqual(before);
  });

  test('broken HTTP on raw connections: the server answers or hangs up, and stays up', async () => {
    const answers = [
      await raw('\x00\x01\x02\x03 hello\r\n\r\n'),
      await raw('GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ' + 'a'.repeat(100_000) + '\r\n\r\n'),
      await raw(`POST /v1/order HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${a.apiKey}\r\nContent-Length: 500\r\n\r\n{"symbol":"`, 300, true),
      await raw(`POST /v1/order HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${a.apiKey}\r\nContent-Length: abc\r\n\r\n{}`),
      await raw(`POST /v1/order HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${a.apiKey}\r\nContent-Length: -1\r\n\r\n{}`),
      await raw(`POST /v1/order HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${a.apiKey}\r\nContent-Length: 99999999999999999999999\r\n\r\n{}`),
      await raw('GET /healthz HTTP/1.1\r\nHost: x\r\n', 300, true), // headers never finished
      await raw('BREW /coffee HTCPCP/1.0\r\n\r\n'),
      await raw(`POST /v1/order HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${a.apiKey}\r\n\r\n`, 500), // no length, no body
    ];
    for (const text of answers) if (text !== '') expect(text).toMatch(/^HTTP\/1\.1 [2-4]\d\d/);
    // a POST without a body is refused as such (not left hanging)
    expect(answers[8]).toMatch(/^HTTP\/1\.1 400/);
    expect(answers[8]).toContain('INVALID_REQUEST');
    const h = await call(ex.url, 'GET', '/healthz');
    expect(h.status).toBe(200);
    expect(await state()).toEqual(before);
  });

  test('a flood of bad requests and bad keys: all refused, the server stays up, state unchanged', async () => {
    const cases: Case[] = [];
    const r = rng(7);
    for (let i = 0; i < 300; i++) {
      const k = i % 4;
      if (k === 0) cases.push({ name: `flood bad key ${i}`, body: valid(), key: `sk_${Math.floor(r() * 1e12).toString(36)}${'A'.repeat(20)}`, codes: ['UNAUTHORIZED'] });
      else if (k === 1) cases.push(post(`{"symbol":"${sym}","qty":`, INVALID, `flood truncated ${i}`));
      else if (k === 2) cases.push(withField('qty', String(-Math.floor(r() * 1000)), QTY, ));
      else cases.push(withField('symbol', `NOPE${i}`, ['UNKNOWN_SYMBOL']));
    }
    const seqAtStart = await lastSeq();
    await expectRefused(cases, 50);
    expect(await state()).toEqual(before);
    expect(await lastSeq()).toBe(seqAtStart);
  });

  test('after all that a valid order works, and the journal replays to the same state hash', async () => {
    const ok = await order(ex, a.apiKey, { ...valid(), price: '9.00', clOrdId: 'after-hostile' });
    expect(ok.status).toBe(201);
    expect(ok.body).toMatchObject({ status: 'new', qty: '1', price: '9.00' });
    expect(ok.body.seq).toBeGreaterThan(seqAfterEngine);
    await ex.stop();
    const atBefore = replayHash(ex.dataDir, seqBefore);
    const atAfter = replayHash(ex.dataDir, ok.body.seq - 1);
    expect(ok.body.seq - 1).toBeGreaterThanOrEqual(seqAfterEngine);
    const end = replayHash(ex.dataDir);
    expect(atBefore.hash).toMatch(/^[0-9a-f]{16,}$/);
    expect(atAfter.hash).toBe(atBefore.hash);
    expect(end.lastSeq).toBe(ok.body.seq);
    expect(end.hash).not.toBe(atBefore.hash);
  });
});
