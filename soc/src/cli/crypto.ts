/**
 * The national-crypto commands of the `xiangan` CLI (issue 2):
 *
 * ```
 * xiangan sm3 [FILE]                                   SM3 digest, hex
 * xiangan hmac-sm3 --key HEX [FILE]                    HMAC-SM3, hex
 * xiangan sm4 encrypt|decrypt --mode ecb|cbc|ctr|cfb|ofb|gcm|ccm|xts --key HEX
 *             [--iv HEX] [--aad HEX] [--tag-len N] [--no-padding] [--in FILE] [--out FILE]
 * xiangan sm2 keygen [--out key.pem] [--passphrase-env VAR] [--format pkcs8|sec1]
 * xiangan sm2 pubkey --key key.pem [--passphrase-env VAR] [--out pub.pem]
 * xiangan sm2 sign --key key.pem [--id ID] [--raw] [--in FILE] [--out FILE]
 * xiangan sm2 verify --pubkey pub.pem --sig FILE [--id ID] [--raw] [--in FILE]
 * xiangan sm2 encrypt --key PEM [--order c1c3c2|c1c2c3] [--der] [--in FILE] [--out FILE]
 * xiangan sm2 decrypt --key PEM [--order c1c3c2|c1c2c3] [--der] [--passphrase-env VAR] [--in FILE] [--out FILE]
 * ```
 *
 * Data is read from `--in`/FILE or stdin and written to `--out` or stdout as raw bytes,
 * the way `openssl dgst -sign` and `openssl pkeyutl` do; digests and MACs print as hex.
 * `verify` prints `Verified OK` and exits 0, or `Verification failure` and exits 1.
 * GCM/CCM output is ciphertext ‖ tag, and decryption expects the same. Key files are the
 * PEM that `openssl pkey` reads and writes. Passphrases come only from the environment
 * (`--passphrase-env VAR`), never from the command line, where `ps` would show them.
 */
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { readFileSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import {
  CryptoError,
  bytesToHex,
  hexToBytes,
  utf8ToBytes,
  sm3,
  hmacSm3,
  sm2Sign,
  sm2Verify,
  sm2Encrypt,
  sm2Decrypt,
  Sm2PrivateKey,
  Sm2PublicKey,
  importSm2PrivateKey,
  importSm2PublicKey,
  sm2PrivateKeyToPem,
  sm2PublicKeyToPem,
  unsafeSm4EcbEncrypt,
  unsafeSm4EcbDecrypt,
  sm4CbcEncrypt,
  sm4CbcDecrypt,
  sm4CtrEncrypt,
  sm4CfbEncrypt,
  sm4CfbDecrypt,
  sm4OfbEncrypt,
  sm4GcmEncrypt,
  sm4GcmDecrypt,
  sm4CcmEncrypt,
  sm4CcmDecrypt,
  sm4XtsEncrypt,
  sm4XtsDecrypt,
  type Sm2CipherOrder,
} from '@xiangan/crypto';
import type { CliIo } from './io.js';
import { UsageError, readAll } from './io.js';

type Values = Record<string, string | boolean | undefined>;

function parse(argv: string[], options: ParseArgsConfig['options']): { values: Values; positionals: string[] } {
  try {
    const r = parseArgs({ args: argv, options, allowPositionals: true, strict: true });
    return { values: r.values as Values, positionals: r.positionals };
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
}

/** parseArgs options from lists of string-valued and boolean flags. */
function options(strings: string[], booleans: string[] = []): NonNullable<ParseArgsConfig['options']> {
  return Object.fromEntries([
    ...strings.map((n) => [n, { type: 'string' as const }]),
    ...booleans.map((n) => [n, { type: 'boolean' as const }]),
  ]);
}

function str(v: Values, name: string): string | undefined {
  const x = v[name];
  return typeof x === 'string' ? x : undefined;
}

function required(v: Values, name: string, usage: string): string {
  const x = str(v, name);
  if (x === undefined) throw new UsageError(`--${name} is required (${usage})`);
  return x;
}

function hexArg(v: Values, name: string): Uint8Array | undefined {
  const x = str(v, name);
  if (x === undefined) return undefined;
  try {
    return hexToBytes(x.trim());
  } catch {
    throw new UsageError(`--${name} must be hex`);
  }
}

function path(io: CliIo, p: string): string {
  return resolve(io.cwd, p);
}

function readFile(io: CliIo, p: string): Uint8Array {
  const b = readFileSync(path(io, p));
  return new Uint8Array(b.buffer, b.byteOffset, b.length);
}

async function input(io: CliIo, file: string | undefined): Promise<Uint8Array> {
  return file === undefined || file === '-' ? readAll(io.stdin) : readFile(io, file);
}

async function output(io: CliIo, file: string | undefined, data: Uint8Array | string, secret = false): Promise<void> {
  if (file === undefined || file === '-') {
    await new Promise<void>((res, rej) => io.stdout.write(data, (err) => (err ? rej(err) : res())));
    return;
  }
  // Private keys are written readable by the owner only.
  writeFileSync(path(io, file), data, secret ? { mode: 0o600 } : {});
}

function passphrase(io: CliIo, v: Values): string | undefined {
  const name = str(v, 'passphrase-env');
  if (name === undefined) return undefined;
  const value = io.env[name];
  if (value === undefined || value === '') throw new UsageError(`environment variable ${name} is not set`);
  return value;
}

function loadPrivate(io: CliIo, v: Values, opt = 'key'): Sm2PrivateKey {
  const file = required(v, opt, `a private key PEM`);
  const pw = passphrase(io, v);
  return importSm2PrivateKey(readFile(io, file), pw === undefined ? {} : { passphrase: pw });
}

/** A public key from a public-key file, or the public half of a private-key file. */
function loadPublic(io: CliIo, v: Values, opt: string): Sm2PublicKey {
  const file = required(v, opt, 'a public or private key PEM');
  const bytes = readFile(io, file);
  try {
    return importSm2PublicKey(bytes);
  } catch (e) {
    if (!(e instanceof CryptoError)) throw e;
    const pw = passphrase(io, v);
    return importSm2PrivateKey(bytes, pw === undefined ? {} : { passphrase: pw }).publicKey;
  }
}

function idOf(v: Values): Uint8Array | undefined {
  const id = str(v, 'id');
  const idHex = hexArg(v, 'id-hex');
  if (id !== undefined && idHex !== undefined) throw new UsageError('give --id or --id-hex, not both');
  return idHex ?? (id === undefined ? undefined : utf8ToBytes(id));
}

function orderOf(v: Values): Sm2CipherOrder {
  const o = str(v, 'order') ?? 'c1c3c2';
  if (o !== 'c1c3c2' && o !== 'c1c2c3') throw new UsageError('--order must be c1c3c2 or c1c2c3');
  return o;
}

async function runSm3(argv: string[], io: CliIo): Promise<number> {
  const { positionals } = parse(argv, {});
  if (positionals.length > 1) throw new UsageError('usage: xiangan sm3 [FILE]');
  await output(io, undefined, `${bytesToHex(sm3(await input(io, positionals[0])))}\n`);
  return 0;
}

async function runHmac(argv: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parse(argv, options(['key']));
  if (positionals.length > 1) throw new UsageError('usage: xiangan hmac-sm3 --key HEX [FILE]');
  const key = hexArg(values, 'key');
  if (!key) throw new UsageError('--key HEX is required');
  await output(io, undefined, `${bytesToHex(hmacSm3(key, await input(io, positionals[0])))}\n`);
  return 0;
}

const SM4_MODES = ['ecb', 'cbc', 'ctr', 'cfb', 'ofb', 'gcm', 'ccm', 'xts'] as const;
type Sm4Mode = (typeof SM4_MODES)[number];

interface Sm4Args {
  key: Uint8Array;
  iv: Uint8Array | undefined;
  aad: Uint8Array | undefined;
  tagLength: number | undefined;
  padding: 'pkcs7' | 'none';
  data: Uint8Array;
}

function needIv(a: Sm4Args, mode: Sm4Mode): Uint8Array {
  if (!a.iv) throw new UsageError(`--iv HEX is required for ${mode}`);
  return a.iv;
}

/** One SM4 operation; misuse (key or IV length) surfaces as the library's RangeError. */
function sm4Op(op: 'encrypt' | 'decrypt', mode: Sm4Mode, a: Sm4Args): Uint8Array {
  const enc = op === 'encrypt';
  const aead = { ...(a.aad ? { aad: a.aad } : {}), ...(a.tagLength !== undefined ? { tagLength: a.tagLength } : {}) };
  if ((a.aad || a.tagLength !== undefined) && mode !== 'gcm' && mode !== 'ccm') throw new UsageError('--aad and --tag-len apply to gcm and ccm only');
  if (mode === 'ecb') {
    if (a.iv) throw new UsageError('ecb takes no --iv');
    return enc ? unsafeSm4EcbEncrypt(a.key, a.data, { padding: a.padding }) : unsafeSm4EcbDecrypt(a.key, a.data, { padding: a.padding });
  }
  const iv = needIv(a, mode);
  switch (mode) {
    case 'cbc':
      return enc ? sm4CbcEncrypt(a.key, iv, a.data, { padding: a.padding }) : sm4CbcDecrypt(a.key, iv, a.data, { padding: a.padding });
    case 'ctr':
      return sm4CtrEncrypt(a.key, iv, a.data);
    case 'cfb':
      return enc ? sm4CfbEncrypt(a.key, iv, a.data) : sm4CfbDecrypt(a.key, iv, a.data);
    case 'ofb':
      return sm4OfbEncrypt(a.key, iv, a.data);
    case 'gcm':
      return enc ? sm4GcmEncrypt(a.key, iv, a.data, aead) : sm4GcmDecrypt(a.key, iv, a.data, aead);
    case 'ccm':
      return enc ? sm4CcmEncrypt(a.key, iv, a.data, aead) : sm4CcmDecrypt(a.key, iv, a.data, aead);
    case 'xts':
      return enc ? sm4XtsEncrypt(a.key, iv, a.data) : sm4XtsDecrypt(a.key, iv, a.data);
  }
}

async function runSm4(argv: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parse(argv, options(['mode', 'key', 'iv', 'aad', 'tag-len', 'in', 'out'], ['no-padding']));
  const [op, ...rest] = positionals;
  if ((op !== 'encrypt' && op !== 'decrypt') || rest.length > 0) {
    throw new UsageError(`usage: xiangan sm4 encrypt|decrypt --mode ${SM4_MODES.join('|')} --key HEX [--iv HEX] [--aad HEX]`);
  }
  const mode = required(values, 'mode', SM4_MODES.join('|'));
  if (!(SM4_MODES as readonly string[]).includes(mode)) throw new UsageError(`--mode must be one of ${SM4_MODES.join(', ')}`);
  const key = hexArg(values, 'key');
  if (!key) throw new UsageError('--key HEX is required');
  const tagLenText = str(values, 'tag-len');
  const tagLen = tagLenText === undefined ? undefined : Number(tagLenText);
  if (tagLen !== undefined && !Number.isInteger(tagLen)) throw new UsageError('--tag-len must be a whole number of bytes');
  const data = await input(io, str(values, 'in'));
  const out = sm4Op(op, mode as Sm4Mode, {
    key,
    iv: hexArg(values, 'iv'),
    aad: hexArg(values, 'aad'),
    tagLength: tagLen,
    padding: values['no-padding'] === true ? 'none' : 'pkcs7',
    data,
  });
  await output(io, str(values, 'out'), out);
  return 0;
}

const SM2_USAGE = 'usage: xiangan sm2 keygen|pubkey|sign|verify|encrypt|decrypt [options]';

async function runSm2(argv: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parse(
    argv,
    options(['key', 'pubkey', 'sig', 'id', 'id-hex', 'order', 'format', 'passphrase-env', 'in', 'out'], ['raw', 'der']),
  );
  const [op, ...rest] = positionals;
  if (rest.length > 0) throw new UsageError(SM2_USAGE);
  const out = str(values, 'out');
  switch (op) {
    case 'keygen': {
      const format = str(values, 'format') ?? 'pkcs8';
      if (format !== 'pkcs8' && format !== 'sec1') throw new UsageError('--format must be pkcs8 or sec1');
      const pw = passphrase(io, values);
      if (pw !== undefined && format !== 'pkcs8') throw new UsageError('only pkcs8 keys can be encrypted');
      const key = Sm2PrivateKey.generate();
      try {
        await output(io, out, sm2PrivateKeyToPem(key, pw === undefined ? { format } : { passphrase: pw }), true);
      } finally {
        key.destroy();
      }
      return 0;
    }
    case 'pubkey': {
      const key = loadPrivate(io, values);
      await output(io, out, sm2PublicKeyToPem(key.publicKey));
      key.destroy();
      return 0;
    }
    case 'sign': {
      const key = loadPrivate(io, values);
      const msg = await input(io, str(values, 'in'));
      const id = idOf(values);
      const sig = sm2Sign(key, msg, { ...(id ? { id } : {}), format: values.raw ? 'raw' : 'der' });
      key.destroy();
      await output(io, out, sig);
      return 0;
    }
    case 'verify': {
      const pub = loadPublic(io, values, 'pubkey');
      const sig = readFile(io, required(values, 'sig', 'the signature file'));
      const msg = await input(io, str(values, 'in'));
      const id = idOf(values);
      const ok = sm2Verify(pub, msg, sig, { ...(id ? { id } : {}), format: values.raw ? 'raw' : 'der' });
      await output(io, undefined, ok ? 'Verified OK\n' : 'Verification failure\n');
      return ok ? 0 : 1;
    }
    case 'encrypt': {
      const pub = loadPublic(io, values, 'key');
      const msg = await input(io, str(values, 'in'));
      await output(io, out, sm2Encrypt(pub, msg, { order: orderOf(values), encoding: values.der ? 'der' : 'raw' }));
      return 0;
    }
    case 'decrypt': {
      const key = loadPrivate(io, values);
      const ct = await input(io, str(values, 'in'));
      try {
        await output(io, out, sm2Decrypt(key, ct, { order: orderOf(values), encoding: values.der ? 'der' : 'raw' }));
      } finally {
        key.destroy();
      }
      return 0;
    }
    default:
      throw new UsageError(SM2_USAGE);
  }
}

/**
 * Entry point for `sm3`, `hmac-sm3`, `sm4` and `sm2` (see the module comment); resolves to
 * the exit code. Bad usage throws {@link UsageError} (exit 2); bad data a `CryptoError` (exit 1).
 * @example await run('sm3', ['file.txt'], io) // prints the hex digest, returns 0
 */
export async function run(command: string, argv: string[], io: CliIo): Promise<number> {
  const commands: Record<string, (argv: string[], io: CliIo) => Promise<number>> = { sm3: runSm3, 'hmac-sm3': runHmac, sm4: runSm4, sm2: runSm2 };
  const fn = commands[command];
  if (!fn) throw new UsageError(`unknown crypto command '${command}'`);
  try {
    return await fn(argv, io);
  } catch (e) {
    // The library reports misuse (a key or IV of the wrong length, an empty SM2 plaintext)
    // as RangeError/TypeError: on the command line that is bad usage, exit 2.
    if (e instanceof RangeError || e instanceof TypeError) throw new UsageError(e.message);
    throw e;
  }
}
