/**
 * The JSON Canonicalization Scheme (RFC 8785), for what is small and signed or hashed once: audit
 * records and checkpoint bodies (events are hashed over their stored text, see soc/README.md).
 * Object members sorted by the UTF-16 code units of their names (§3.2.3), no whitespace, strings
 * and numbers serialised as ECMAScript's JSON.stringify does (§3.2.2.2, §3.2.2.3), which is what
 * RFC 8785 prescribes, so any implementation of RFC 8785 reproduces the signed bytes.
 */

/**
 * RFC 8785 canonical JSON text of a JSON value.
 * Throws `TypeError` for values JSON cannot hold (non-finite numbers, functions, bigint).
 * @example canonicalJson({ b: 1, a: [true, 'x'] }) // '{"a":[true,"x"],"b":1}'
 */
export function canonicalJson(value: unknown): string {
  switch (typeof value) {
    case 'string':
      return JSON.stringify(value);
    case 'boolean':
      return value ? 'true' : 'false';
    case 'number':
      if (!Number.isFinite(value)) throw new TypeError('canonicalJson: non-finite number');
      // ES Number::toString is the RFC 8785 §3.2.2.3 number format; -0 serialises as 0.
      return JSON.stringify(value);
    case 'object': {
      if (value === null) return 'null';
      if (Array.isArray(value)) {
        let s = '[';
        for (let i = 0; i < value.length; i++) {
          if (i) s += ',';
          const v = value[i];
          s += v === undefined ? 'null' : canonicalJson(v);
        }
        return s + ']';
      }
      const obj = value as Record<string, unknown>;
      // Default sort compares UTF-16 code units, as §3.2.3 asks.
      const keys = Object.keys(obj).sort();
      let s = '{';
      let first = true;
      for (const k of keys) {
        const v = obj[k];
        if (v === undefined) continue;
        if (!first) s += ',';
        first = false;
        s += JSON.stringify(k) + ':' + canonicalJson(v);
      }
      return s + '}';
    }
    default:
      throw new TypeError(`canonicalJson: ${typeof value} is not JSON`);
  }
}
