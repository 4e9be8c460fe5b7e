/**
 * uWS HTTP plumbing for the REST gateway: a route runs an async handler with what it needs from
 * the request (uWS's request object dies when the handler first returns, so everything is read up
 * front), reads a bounded body, and writes one JSON answer, corked, unless the client went away.
 * Every thrown `ApiError` becomes SPEC §3's error body; anything else is a 500 (logged) and never
 * takes the thread down.
 */
import type { HttpRequest, HttpResponse, TemplatedApp } from 'uWebSockets.js';
import { Code } from '../domain/codes.js';
import { ApiError } from './errors.js';

export interface Request {
  method: string;
  url: string;
  params: string[];
  query: URLSearchParams;
  authorization: string;
  contentType: string;
  lastEventId: string;
  /** the client's address (read on first use, which must come before the answer: uWS frees `res` then) */
  readonly remote: string;
  /** the body's text ('' when none); read only for methods that take one */
  body: string;
}

export interface Answer {
  status: number;
  /** JSON-serialisable value, or a string sent as is (with `contentType`) */
  body: unknown;
  headers?: Record<string, string>;
  contentType?: string;
}

export type Handler = (req: Request) => Promise<Answer> | Answer;

const STATUS_TEXT: Record<number, string> = {
  200: '200 OK',
  201: '201 Created',
  400: '400 Bad Request',
  401: '401 Unauthorized',
  403: '403 Forbidden',
  404: '404 Not Found',
  405: '405 Method Not Allowed',
  409: '409 Conflict',
  413: '413 Payload Too Large',
  422: '422 Unprocessable Entity',
  429: '429 Too Many Requests',
  500: '500 Internal Server Error',
  503: '503 Service Unavailable',
  504: '504 Gateway Timeout',
};

export interface HttpOptions {
  maxBodyBytes: number;
  log: (line: string) => void;
  /** counts answers by status class (metrics) */
  onAnswer?: (status: number, startedMs: number) => void;
}

const paramCount = (pattern: string): number => pattern.split('/').filter((p) => p.startsWith(':')).length;

const decoder = new TextDecoder('utf-8', { fatal: true });

export class Router {
  /** set while the gateway stops: every answer closes its connection */
  closing = false;

  constructor(
    private readonly app: TemplatedApp,
    private readonly options: HttpOptions,
  ) {}

  get(pattern: string, h: Handler): this {
    const n = paramCount(pattern);
    this.app.get(pattern, (res, req) => this.run(res, req, h, false, n));
    return this;
  }
  post(pattern: string, h: Handler): this {
    const n = paramCount(pattern);
    this.app.post(pattern, (res, req) => this.run(res, req, h, true, n));
    return this;
  }
  put(pattern: string, h: Handler): this {
    const n = paramCount(pattern);
    this.app.put(pattern, (res, req) => this.run(res, req, h, true, n));
    return this;
  }
  patch(pattern: string, h: Handler): this {
    const n = paramCount(pattern);
    this.app.patch(pattern, (res, req) => this.run(res, req, h, true, n));
    return this;
  }
  del(pattern: string, h: Handler): this {
    const n = paramCount(pattern);
    this.app.del(pattern, (res, req) => this.run(res, req, h, false, n));
    return this;
  }
  any(pattern: string, h: Handler): this {
    const n = paramCount(pattern);
    this.app.any(pattern, (res, req) => this.run(res, req, h, false, n));
    return this;
  }

  private run(res: HttpResponse, raw: HttpRequest, handler: Handler, withBody: boolean, paramCount: number): void {
    const started = performance.now();
    const state = { aborted: false };
    let remote: string | undefined;
    res.onAborted(() => {
      state.aborted = true;
    });
    const params: string[] = [];
    for (let i = 0; i < paramCount; i++) params.push(raw.getParameter(i) ?? '');
    const req: Request = {
      method: raw.getMethod(),
      url: raw.getUrl(),
      params,
      query: new URLSearchParams(raw.getQuery() ?? ''),
      authorization: raw.getHeader('authorization'),
      contentType: raw.getHeader('content-type'),
      lastEventId: raw.getHeader('last-event-id'),
      // ~6 µs a request on this machine, and most routes never ask
      get remote(): string {
        return (remote ??= state.aborted ? '' : Buffer.from(res.getRemoteAddressAsText()).toString());
      },
      body: '',
    };
    const declared = raw.getHeader('content-length');
    const go = () => {
      Promise.resolve()
        .then(() => handler(req))
        .then(
          (a) => this.send(res, state, a, started),
          (e: unknown) => this.send(res, state, this.errorAnswer(e, req), started),
        );
    };
    if (!withBody) return go();
    const max = this.options.maxBodyBytes;
    if (declared !== '' && !(Number(declared) <= max)) {
      this.send(res, state, new ApiError('PAYLOAD_TOO_LARGE', `body larger than ${max} bytes`), started, true);
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    let refused = false;
    res.onData((chunk, isLast) => {
      if (refused) return;
      size += chunk.byteLength;
      if (size > max) {
        refused = true;
        this.send(res, state, new ApiError('PAYLOAD_TOO_LARGE', `body larger than ${max} bytes`), started, true);
        return;
      }
      chunks.push(Buffer.from(chunk.slice(0))); // uWS reuses the chunk's memory after this call
      if (!isLast) return;
      try {
        req.body = decoder.decode(Buffer.concat(chunks));
      } catch {
        this.send(res, state, new ApiError(Code.INVALID_REQUEST, 'the body is not UTF-8'), started);
        return;
      }
      go();
    });
  }

  private errorAnswer(e: unknown, req: Request): ApiError {
    if (e instanceof ApiError) return e;
    this.options.log(`gateway: ${req.method} ${req.url} failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
    const err = new ApiError(Code.INVALID_REQUEST, 'internal error: the outcome is unknown, query by clOrdId');
    (err as { status: number }).status = 500;
    (err as { code: string }).code = 'INTERNAL';
    return err;
  }

  private send(res: HttpResponse, state: { aborted: boolean }, a: Answer | ApiError, started: number, close = false): void {
    if (state.aborted) return;
    state.aborted = true; // one answer per request
    const answer: Answer = a instanceof ApiError ? { status: a.status, body: a.body(), headers: a.headers, contentType: 'application/json' } : a;
    const text = typeof answer.body === 'string' && answer.contentType !== undefined ? answer.body : JSON.stringify(answer.body);
    res.cork(() => {
      res.writeStatus(STATUS_TEXT[answer.status] ?? String(answer.status));
      res.writeHeader('content-type', answer.contentType ?? 'application/json');
      if (answer.headers !== undefined) for (const k in answer.headers) res.writeHeader(k, answer.headers[k]!);
      res.end(text, close || this.closing);
    });
    this.options.onAnswer?.(answer.status, started);
  }
}
