/**
 * Cross-checks against the `openssl` command line (OpenSSL ≥ 3.0), both directions, at
 * least 200 random cases each: SM3, SM4 in the modes OpenSSL has (ECB, CBC, CTR, CFB, OFB),
 * SM2 signatures with the default and custom distinguishing IDs, and SM2 encryption in
 * the GM/T 0009 DER form OpenSSL uses. openssl missing is a failure, not a skip.
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import {
  bytesToHex,
  randomBytes,
  utf8ToBytes,
  sm3,
  unsafeSm4EcbEncrypt,
  unsafeSm4EcbDecrypt,
  sm4CbcEncrypt,
  sm4CbcDecrypt,
  sm4CtrEncrypt,
  sm4CtrDecrypt,
  sm4CfbEncrypt,
  sm4CfbDecrypt,
  sm4OfbEncrypt,
  sm4OfbDecrypt,
  sm2Sign,
  sm2Verify,
  sm2Encrypt,
  sm2Decrypt,
  Sm2PrivateKey,
  importSm2PrivateKey,
  sm2PrivateKeyToPem,
  sm2PublicKeyToPem,
} from '../src/index.js';

const CASES = 200;
let dir = '';

/** Run openssl with `input` on stdin; resolves to stdout, rejects with stderr on a non-zero exit. */
function openssl(args: string[], input?: Uint8Array): Promise<{ code: number; out: Buffer; err: string }> {
  return new Promise((resolvePromise, reject) => {
    // Commands that read files get no stdin at all (writing to their closed pipe would EPIPE).
    const p = spawn('openssl', args, { stdio: [input ? 'pipe' : 'ignore', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    p.stdout!.on('data', (c: Buffer) => out.push(c));
    p.stderr!.on('data', (c: Buffer) => err.push(c));
    p.on('error', reject);
    p.on('close', (code) => resolvePromise({ code: code ?? -1, out: Buffer.concat(out), err: Buffer.concat(err).toString() }));
    if (input) {
      p.stdin!.on('error', reject);
      p.stdin!.end(input);
    }
  });
}

async function opensslOk(args: string[], input?: Uint8Array): Promise<Uint8Array> {
  const r = await openssl(args, input);
  if (r.code !== 0) throw new Error(`openssl ${args.join(' ')} failed (${r.code}): ${r.err}`);
  return new Uint8Array(r.out);
}

/** Run `tasks` with at most `n` in flight (the machine has two cores). */
async function pool<T>(n: number, count: number, task: (i: number) => Promise<T>): Promise<T[]> {
  const results: T[] = new Array(count);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < count) {
      const i = next++;
      results[i] = await task(i);
    }
  };
  await Promise.all(Array.from({ length: n }, worker));
  return results;
}

const randInt = (max: number): number => randomBytes(4).reduce((a, b) => a * 256 + b, 0) % max;

before(() => {
  // A missing openssl must fail the suite, never skip it.
  const v = execFileSync('openssl', ['version']).toString();
  assert.match(v, /^OpenSSL 3\./);
  dir = mkdtempSync(join(tmpdir(), 'xiangan-interop-'));
});
after(() => rmSync(dir, { recursive: true, force: true }));

describe('SM3 against openssl dgst -sm3', () => {
  test(`${CASES} random messages in one openssl run`, async () => {
    const msgs = Array.from({ length: CASES }, (_, i) => randomBytes(i < 150 ? randInt(300) : randInt(70_000)));
    const files = msgs.map((m, i) => {
      const f = join(dir, `m${i}`);
      writeFileSync(f, m);
      return f;
    });
    const out = new TextDecoder().decode(await opensslOk(['dgst', '-sm3', '-r', ...files]));
    const lines = out.trim().split('\n');
    assert.equal(lines.length, CASES);
    lines.forEach((line, i) => {
      const [hex, name] = line.split(' *');
      assert.equal(name, files[i]);
      assert.equal(bytesToHex(sm3(msgs[i])), hex, `message ${i} (${msgs[i].length} bytes)`);
    });
  });
});

type Mode = 'ecb' | 'cbc' | 'ctr' | 'cfb' | 'ofb';
const ours: Record<Mode, { enc(k: Uint8Array, iv: Uint8Array, d: Uint8Array, pad: boolean): Uint8Array; dec(k: Uint8Array, iv: Uint8Array, d: Uint8Array, pad: boolean): Uint8Array }> = {
  ecb: {
    enc: (k, _iv, d, pad) => unsafeSm4EcbEncrypt(k, d, { padding: pad ? 'pkcs7' : 'none' }),
    dec: (k, _iv, d, pad) => unsafeSm4EcbDecrypt(k, d, { padding: pad ? 'pkcs7' : 'none' }),
  },
  cbc: {
    enc: (k, iv, d, pad) => sm4CbcEncrypt(k, iv, d, { padding: pad ? 'pkcs7' : 'none' }),
    dec: (k, iv, d, pad) => sm4CbcDecrypt(k, iv, d, { padding: pad ? 'pkcs7' : 'none' }),
  },
  ctr: { enc: (k, iv, d) => sm4CtrEncrypt(k, iv, d), dec: (k, iv, d) => sm4CtrDecrypt(k, iv, d) },
  cfb: { enc: (k, iv, d) => sm4CfbEncrypt(k, iv, d), dec: (k, iv, d) => sm4CfbDecrypt(k, iv, d) },
  ofb: { enc: (k, iv, d) => sm4OfbEncrypt(k, iv, d), dec: (k, iv, d) => sm4OfbDecrypt(k, iv, d) },
};

describe('SM4 against openssl enc', () => {
  for (const mode of ['ecb', 'cbc', 'ctr', 'cfb', 'ofb'] as const) {
    test(`sm4-${mode}: ${CASES} cases each way`, async () => {
      await pool(2, CASES, async (i) => {
        const key = randomBytes(16);
        // Counter blocks near 2^128 - 1 exercise the full-width CTR wrap both sides implement.
        const iv = mode === 'ctr' && i % 10 === 0 ? new Uint8Array(16).fill(0xff).map((b, j) => (j === 15 ? 0xfe : b)) : randomBytes(16);
        const blockMode = mode === 'ecb' || mode === 'cbc';
        const pad = !blockMode || i % 4 !== 0;
        const len = blockMode && !pad ? 16 * randInt(8) : randInt(200);
        const pt = randomBytes(len);
        const args = ['enc', `-sm4-${mode}`, '-K', bytesToHex(key), ...(mode === 'ecb' ? [] : ['-iv', bytesToHex(iv)]), ...(pad ? [] : ['-nopad'])];
        // openssl → ours
        const theirs = await opensslOk(['enc', '-e', ...args.slice(1)], pt);
        assert.deepEqual(ours[mode].dec(key, iv, theirs, pad), pt, `case ${i}: our decryption of openssl's ciphertext`);
        // ours → openssl: byte-identical ciphertext in every case (the modes are deterministic,
        // so openssl decrypts it exactly as its own); an actual openssl decryption in every
        // other case keeps that claim honest at half the process count.
        const mine = ours[mode].enc(key, iv, pt, pad);
        assert.deepEqual(mine, theirs, `case ${i}: same ciphertext`);
        if (i % 2 === 0) assert.deepEqual(await opensslOk(['enc', '-d', ...args.slice(1)], mine), pt, `case ${i}: openssl decryption of ours`);
      });
    });
  }
});

interface KeyFiles {
  key: Sm2PrivateKey;
  priv: string;
  pub: string;
}

/** Half the keys made by openssl (imported here), half made here (read by openssl). */
async function makeKeys(n: number): Promise<KeyFiles[]> {
  return pool(2, n, async (i) => {
    let key: Sm2PrivateKey;
    let pem: string;
    if (i % 2 === 0) {
      pem = new TextDecoder().decode(await opensslOk(['genpkey', '-algorithm', 'SM2']));
      key = importSm2PrivateKey(pem);
    } else {
      key = Sm2PrivateKey.generate();
      pem = sm2PrivateKeyToPem(key);
    }
    const priv = join(dir, `k${i}.pem`);
    const pub = join(dir, `p${i}.pem`);
    writeFileSync(priv, pem);
    writeFileSync(pub, sm2PublicKeyToPem(key.publicKey));
    return { key, priv, pub };
  });
}

/** IDs: the default, printable ones, and arbitrary bytes of various lengths (always passed explicitly: pkeyutl's own default is empty). */
function idFor(i: number): Uint8Array | undefined {
  if (i % 3 === 0) return undefined;
  if (i % 3 === 1) return utf8ToBytes(`user${i}@example.cn`);
  return randomBytes(1 + randInt(64));
}
const idArgs = (id: Uint8Array | undefined): string[] => ['-pkeyopt', `hexdistid:${bytesToHex(id ?? utf8ToBytes('1234567812345678'))}`];

describe('SM2 against openssl pkeyutl', () => {
  let keys: KeyFiles[] = [];
  before(async () => {
    keys = await makeKeys(8);
  });

  test(`openssl signs, we verify: ${CASES} cases, default and custom IDs`, async () => {
    await pool(2, CASES, async (i) => {
      const k = keys[i % keys.length];
      const msg = randomBytes(randInt(300));
      const id = idFor(i);
      const msgFile = join(dir, `sm${i}`);
      writeFileSync(msgFile, msg);
      const sig = await opensslOk(['pkeyutl', '-sign', '-inkey', k.priv, '-rawin', '-digest', 'sm3', '-in', msgFile, ...idArgs(id)]);
      assert.ok(sm2Verify(k.key.publicKey, msg, sig, id ? { id } : {}), `case ${i}`);
      // The same signature under another ID or message must fail.
      assert.ok(!sm2Verify(k.key.publicKey, msg, sig, { id: utf8ToBytes('other-id') }), `case ${i}: wrong id`);
      const bad = sig.slice();
      bad[bad.length - 1] ^= 1;
      assert.ok(!sm2Verify(k.key.publicKey, msg, bad, id ? { id } : {}), `case ${i}: tampered`);
    });
  });

  test(`we sign, openssl verifies: ${CASES} cases, default and custom IDs`, async () => {
    await pool(2, CASES, async (i) => {
      const k = keys[i % keys.length];
      const msg = randomBytes(randInt(300));
      const id = idFor(i + 1);
      const msgFile = join(dir, `vm${i}`);
      const sigFile = join(dir, `vs${i}`);
      writeFileSync(msgFile, msg);
      writeFileSync(sigFile, sm2Sign(k.key, msg, id ? { id } : {}));
      const r = await openssl(['pkeyutl', '-verify', '-pubin', '-inkey', k.pub, '-rawin', '-digest', 'sm3', '-in', msgFile, '-sigfile', sigFile, ...idArgs(id)]);
      assert.equal(r.code, 0, `case ${i}: ${r.err}`);
      assert.match(r.out.toString(), /Signature Verified Successfully/);
      if (i % 20 === 0) {
        // And openssl rejects a tampered one, so the check above means something.
        const sig = sm2Sign(k.key, msg, id ? { id } : {});
        sig[sig.length - 1] ^= 1;
        writeFileSync(sigFile, sig);
        const r2 = await openssl(['pkeyutl', '-verify', '-pubin', '-inkey', k.pub, '-rawin', '-digest', 'sm3', '-in', msgFile, '-sigfile', sigFile, ...idArgs(id)]);
        assert.notEqual(r2.code, 0);
      }
    });
  });

  test('openssl dgst -sm3 -sign with -sigopt distid interoperates too', async () => {
    const k = keys[1];
    const msgFile = join(dir, 'dgst-msg');
    const msg = utf8ToBytes('message digest');
    writeFileSync(msgFile, msg);
    const sig = await opensslOk(['dgst', '-sm3', '-sign', k.priv, '-sigopt', 'distid:ALICE123@YAHOO.COM', msgFile]);
    assert.ok(sm2Verify(k.key.publicKey, msg, sig, { id: utf8ToBytes('ALICE123@YAHOO.COM') }));
  });

  test('SM2 encryption (GM/T 0009 DER) both ways: 50 cases', async () => {
    await pool(2, 50, async (i) => {
      const k = keys[i % keys.length];
      const msg = randomBytes(1 + randInt(200));
      const theirs = await opensslOk(['pkeyutl', '-encrypt', '-pubin', '-inkey', k.pub], msg);
      assert.deepEqual(sm2Decrypt(k.key, theirs, { encoding: 'der' }), msg, `case ${i}: we decrypt openssl's`);
      const mine = sm2Encrypt(k.key.publicKey, msg, { encoding: 'der' });
      assert.deepEqual(await opensslOk(['pkeyutl', '-decrypt', '-inkey', k.priv], mine), msg, `case ${i}: openssl decrypts ours`);
    });
  });
});
