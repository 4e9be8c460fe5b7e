/**
 * A strict JSON parser for untrusted request bodies that keeps every number as its decimal text
 * (`JsonNumber`): SPEC §2 accepts JSON numbers for prices and quantities but reads them from their
 * text, never through a float ("0.1" stays 0.1). Node 20's JSON.parse cannot hand out the source
 * text of a number, hence this parser.
 *
 * Objects have no prototype (a "__proto__" key is plain data); duplicate keys, nesting deeper than
 * MAX_DEPTH and trailing data are errors.
 */
export class JsonNumber {
  constructor(readonly text: string) {}
}

export type JsonValue = null | boolean | string | JsonNumber | JsonValue[] | { [key: string]: JsonValue };

export class JsonError extends Error {}

const MAX_DEPTH = 32;
const NUMBER_RE = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/y;

export function parseJson(text: string): JsonValue {
  const p = new Parser(text);
  p.ws();
  const v = p.value(0);
  p.ws();
  if (p.at !== text.length) throw new JsonError(`unexpected data at offset ${p.at}`);
  return v;
}

class Parser {
  at = 0;
  constructor(private readonly s: string) {}

  ws(): void {
    const s = this.s;
    for (;;) {
      const c = s.charCodeAt(this.at);
      if (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) this.at++;
      else return;
    }
  }

  value(depth: number): JsonValue {
    if (depth > MAX_DEPTH) throw new JsonError('nested too deeply');
    const c = this.s[this.at];
    switch (c) {
      case '{':
        return this.object(depth);
      case '[':
        return this.array(depth);
      case '"':
        return this.string();
      case 't':
        return this.word('true', true);
      case 'f':
        return this.word('false', false);
      case 'n':
        return this.word('null', null);
      default: {
        NUMBER_RE.lastIndex = this.at;
        const m = NUMBER_RE.exec(this.s);
        if (m === null) throw new JsonError(c === undefined ? 'unexpected end of JSON' : `unexpected character at offset ${this.at}`);
        this.at += m[0].length;
        return new JsonNumber(m[0]);
      }
    }
  }

  private word<T>(w: string, v: T): T {
    if (!this.s.startsWith(w, this.at)) throw new JsonError(`unexpected character at offset ${this.at}`);
    this.at += w.length;
    return v;
  }

  private object(depth: number): { [key: string]: JsonValue } {
    const out = Object.create(null) as { [key: string]: JsonValue };
    this.at++;
    this.ws();
    if (this.s[this.at] === '}') {
      this.at++;
      return out;
    }
    for (;;) {
      this.ws();
      if (this.s[this.at] !== '"') throw new JsonError(`expected a key at offset ${this.at}`);
      const key = this.string();
      if (Object.prototype.hasOwnProperty.call(out, key)) throw new JsonError(`duplicate key "${key.slice(0, 40)}"`);
      this.ws();
      if (this.s[this.at] !== ':') throw new JsonError(`expected ':' at offset ${this.at}`);
      this.at++;
      this.ws();
      out[key] = this.value(depth + 1);
      this.ws();
      const c = this.s[this.at++];
      if (c === '}') return out;
      if (c !== ',') throw new JsonError(`expected ',' or '}' at offset ${this.at - 1}`);
    }
  }

  private array(depth: number): JsonValue[] {
    const out: JsonValue[] = [];
    this.at++;
    this.ws();
    if (this.s[this.at] === ']') {
      this.at++;
      return out;
    }
    for (;;) {
      this.ws();
      out.push(this.value(depth + 1));
      this.ws();
      const c = this.s[this.at++];
      if (c === ']') return out;
      if (c !== ',') throw new JsonError(`expected ',' or ']' at offset ${this.at - 1}`);
    }
  }

  private string(): string {
    const s = this.s;
    let i = this.at + 1;
    let out = '';
    let from = i;
    for (;;) {
      if (i >= s.length) throw new JsonError('unterminated string');
      const c = s.charCodeAt(i);
      if (c === 0x22) break;
      if (c < 0x20) throw new JsonError(`control character in string at offset ${i}`);
      if (c !== 0x5c) {
        i++;
        continue;
      }
      out += s.slice(from, i);
      const e = s[i + 1];
      switch (e) {
        case '"':
        case '\\':
        case '/':
          out += e;
          break;
        case 'b':
          out += '\b';
          break;
        case 'f':
          out += '\f';
          break;
        case 'n':
          out += '\n';
          break;
        case 'r':
          out += '\r';
          break;
        case 't':
          out += '\t';
          break;
        case 'u': {
          const hex = s.slice(i + 2, i + 6);
          if (!/^[0-9a-fA-F]{4}$/.test(hex)) throw new JsonError(`bad \\u escape at offset ${i}`);
          out += String.fromCharCode(parseInt(hex, 16));
          i += 4;
          break;
        }
        default:
          throw new JsonError(`bad escape at offset ${i}`);
      }
      i += 2;
      from = i;
    }
    out += s.slice(from, i);
    this.at = i + 1;
    return out;
  }
}
