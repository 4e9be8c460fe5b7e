/**
 * Errors at the edge: a stable code (SPEC §3), its HTTP status and a message for people. Codes
 * the engine also returns share its numbers (src/domain/codes.ts); edge-only codes are strings.
 */
import { CODE_HTTP_STATUS, CODE_NAMES } from '../domain/codes.js';

export type EdgeCode = 'PAYLOAD_TOO_LARGE' | 'RATE_LIMITED' | 'OVERLOADED' | 'TIMEOUT' | 'NOT_PRIMARY' | 'METHOD_NOT_ALLOWED';

const EDGE_STATUS: Record<EdgeCode, number> = {
  PAYLOAD_TOO_LARGE: 413,
  RATE_LIMITED: 429,
  OVERLOADED: 503,
  // 5xx = outcome unknown: the client should query by clOrdId (SPEC §3)
  TIMEOUT: 504,
  NOT_PRIMARY: 503,
  METHOD_NOT_ALLOWED: 405,
};

export class ApiError extends Error {
  readonly status: number;
  readonly code: string;
  constructor(
    code: number | EdgeCode,
    message: string,
    readonly extra?: Record<string, unknown>,
    readonly headers?: Record<string, string>,
  ) {
    super(message);
    if (typeof code === 'number') {
      this.code = CODE_NAMES[code] ?? 'INVALID_REQUEST';
      this.status = CODE_HTTP_STATUS[code] ?? 400;
    } else {
      this.code = code;
      this.status = EDGE_STATUS[code];
    }
  }

  body(): string {
    return JSON.stringify({ error: { code: this.code, message: this.message, ...this.extra } });
  }
}
