/**
 * Distinguished names: built from readable text, encoded as RFC 5280 §4.1.2.4 asks
 * (countryName and serialNumber as PrintableString, emailAddress/DC as IA5String, every
 * other attribute as UTF8String so Chinese text such as `O=湘安` round-trips), printed in
 * RFC 4514 order and compared for name chaining.
 */
import { AttributeTypeAndValue, AttributeValue, Name, RelativeDistinguishedName } from '@peculiar/asn1-x509';
import { bytesToHex } from '@xiangan/crypto';
import { NAME_ATTRS } from './oids.js';

/** One attribute of a name: a short name (`CN`, `O`, …) or a dotted OID, and its text. */
export interface NameAttribute {
  type: string;
  value: string;
}

/**
 * A name as text (`/C=CN/O=湘安/CN=root`, OpenSSL's form), as attributes in order (most
 * significant first), or a parsed `Name` (kept exactly, e.g. a request's subject).
 */
export type NameInput = string | NameAttribute[] | Name;

const SHORT_BY_OID: Record<string, string> = Object.fromEntries(Object.entries(NAME_ATTRS).map(([k, v]) => [v, k]));
const PRINTABLE = /^[A-Za-z0-9 '()+,\-./:=?]*$/;

function attrOid(type: string): string {
  const oid = NAME_ATTRS[type] ?? (/^\d+(\.\d+)+$/.test(type) ? type : undefined);
  if (!oid) throw new RangeError(`unknown name attribute '${type}'`);
  return oid;
}

/** Parse `/C=CN/O=湘安/CN=root` (a `\/` escapes a slash). */
function parseSlashName(s: string): NameAttribute[] {
  if (!s.startsWith('/')) throw new RangeError(`a name must look like /C=CN/O=Org/CN=name, got '${s}'`);
  const parts = s.slice(1).split(/(?<!\\)\//).filter((p) => p.length > 0);
  return parts.map((p) => {
    const eq = p.indexOf('=');
    if (eq <= 0) throw new RangeError(`bad name component '${p}'`);
    return { type: p.slice(0, eq).trim(), value: p.slice(eq + 1).replace(/\\\//g, '/') };
  });
}

/**
 * Build an X.509 `Name` (one attribute per RDN, in the order given).
 *
 * @example
 * const n = buildName('/C=CN/O=湘安/CN=Xiangan Root CA');
 */
export function buildName(input: NameInput): Name {
  if (input instanceof Name) return input;
  const attrs = typeof input === 'string' ? parseSlashName(input) : input;
  if (!Array.isArray(attrs)) throw new TypeError('name must be a string or an array of {type, value}');
  return new Name(
    attrs.map((a) => {
      if (typeof a?.value !== 'string' || typeof a?.type !== 'string') throw new TypeError('name attribute needs string type and value');
      const oid = attrOid(a.type);
      let value: AttributeValue;
      if (oid === NAME_ATTRS.C || oid === NAME_ATTRS.serialNumber) {
        if (!PRINTABLE.test(a.value) || (oid === NAME_ATTRS.C && a.value.length !== 2)) {
          throw new RangeError(`${a.type} must be PrintableString${oid === NAME_ATTRS.C ? ' of two letters' : ''}`);
        }
        value = new AttributeValue({ printableString: a.value });
      } else if (oid === NAME_ATTRS.emailAddress || oid === NAME_ATTRS.DC) {
        // eslint-disable-next-line no-control-regex
        if (!/^[\x00-\x7f]*$/.test(a.value)) throw new RangeError(`${a.type} must be IA5 (ASCII)`);
        value = new AttributeValue({ ia5String: a.value });
      } else {
        value = new AttributeValue({ utf8String: a.value });
      }
      return new RelativeDistinguishedName([new AttributeTypeAndValue({ type: oid, value })]);
    }),
  );
}

function attrText(v: AttributeValue): string {
  if (v.anyValue) return '#' + bytesToHex(new Uint8Array(v.anyValue));
  return v.toString();
}

/** Attributes of a name, most significant first. @example nameAttributes(cert.subject) */
export function nameAttributes(name: Name): NameAttribute[] {
  const out: NameAttribute[] = [];
  for (const rdn of name) for (const atv of rdn) out.push({ type: SHORT_BY_OID[atv.type] ?? atv.type, value: attrText(atv.value) });
  return out;
}

function escape4514(v: string): string {
  return v.replace(/([,+"\\<>;])/g, '\\$1').replace(/^([ #])/, '\\$1').replace(/ $/, '\\ ');
}

/**
 * RFC 4514 string (least significant RDN first), e.g. `CN=leaf,O=湘安,C=CN`.
 *
 * @example
 * nameToString(buildName('/C=CN/CN=a')) // 'CN=a,C=CN'
 */
export function nameToString(name: Name): string {
  return [...name]
    .reverse()
    .map((rdn) => [...rdn].map((atv) => `${SHORT_BY_OID[atv.type] ?? atv.type}=${escape4514(attrText(atv.value))}`).join('+'))
    .join(',');
}

const normCache = new WeakMap<Name, string>();

/** RFC 5280 §7.1 comparison, simplified: case-folded, whitespace-collapsed values, RDN by RDN (cached per Name object). */
function normalised(name: Name): string {
  let k = normCache.get(name);
  if (k === undefined) {
    k = [...name]
      .map((rdn) =>
        [...rdn]
          .map((atv) => `${atv.type}=${attrText(atv.value).trim().replace(/\s+/g, ' ').toLowerCase()}`)
          .sort()
          .join('+'),
      )
      .join('/');
    normCache.set(name, k);
  }
  return k;
}

/**
 * Whether two names match for path building (RFC 5280 §4.1.2.4, §7.1): equal after case
 * folding and whitespace collapsing of the attribute values (identical DER always is).
 *
 * @example
 * namesEqual(cert.issuer, issuerCert.subject)
 */
export function namesEqual(a: Name, b: Name): boolean {
  return normalised(a) === normalised(b);
}
