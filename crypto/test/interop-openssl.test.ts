/**
 * Cross-checks against the `openssl` command line (OpenSSL ≥ 3.0), both directions, at
 * least 200 random cases each: SM3, SM4 in the modes OpenSSL has (ECB, CBC, CTR, CFB, OFB),
 * SM2 signatures with the default and custom distinguishing IDs, and SM2 encryption in
 * the GM/T 0009 DER form OpenSSL uses. openssl missing is a failure, not a skip.
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync, readFileSync, rmSync } from 'node:fs';
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

/**
 * Run many openssl commands through one `sh` (forking a small shell is far cheaper than
 * spawning each process from Node). Each line's exit status goes to `<dir>/<tag>.rc<i>`.
 * Arguments are temp-dir paths and hex, quoted anyway.
 */
function opensslBatch(tag: string, commands: string[][]): number[] {
  const q = (a: string): string => `'${a.replace(/'/g, `'\\''`)}'`;
  const script = commands.map((args, i) => `openssl ${args.map(q).join(' ')} 2>/dev/null; echo $? > ${q(join(dir, `${tag}.rc${i}`))}`).join('\n');
  const file = join(dir, `${tag}.sh`);
  writeFileSync(file, `${script}\n`);
  execFileSync('sh', [file]);
  return commands.map((_, i) => Number(readFileSync(join(dir, `${tag}.rc${i}`), 'utf8').trim()));
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
    test(`sm4-${mode}: ${CASES} cases each way`, () => {
      const cases = Array.from({ length: CASES }, (_, i) => {
        const key = randomBytes(16);
        // Counter blocks near 2^128 - 1 exercise the full-width CTR wrap both sides implement.
        const iv = mode === 'ctr' && i % 10 === 0 ? new Uint8Array(16).fill(0xff).map((b, j) => (j === 15 ? 0xfe : b)) : randomBytes(16);
        const blockMode = mode === 'ecb' || mode === 'cbc';
        const pad = !blockMode || i % 4 !== 0;
        const pt = randomBytes(blockMode && !pad ? 16 * randInt(8) : randInt(200));
        const args = [`-sm4-${mode}`, '-K', bytesToHex(key), ...(mode === 'ecb' ? [] : ['-iv', bytesToHex(iv)]), ...(pad ? [] : ['-nopad'])];
        const f = (what: string): string => join(dir, `${mode}-${what}-${i}`);
        writeFileSync(f('pt'), pt);
        return { key, iv, pad, pt, args, f };
      });
      // openssl → ours: openssl encrypts, we decrypt, and our encryption is byte-identical.
      const rc1 = opensslBatch(`${mode}-enc`, cases.map((c) => ['enc', '-e', ...c.args, '-in', c.f('pt'), '-out', c.f('theirs')]));
      cases.forEach((c, i) => {
        assert.equal(rc1[i], 0, `case ${i}: openssl enc -e`);
        const theirs = new Uint8Array(readFileSync(c.f('theirs')));
        assert.deepEqual(ours[mode].dec(c.key, c.iv, theirs, c.pad), c.pt, `case ${i}: our decryption of openssl's ciphertext`);
        const mine = ours[mode].enc(c.key, c.iv, c.pt, c.pad);
        assert.deepEqual(mine, theirs, `case ${i}: same ciphertext`);
        writeFileSync(c.f('mine'), mine);
      });
      // ours → openssl: openssl decrypts what we encrypted.
      const rc2 = opensslBatch(`${mode}-dec`, cases.map((c) => ['enc', '-d', ...c.args, '-in', c.f('mine'), '-out', c.f('back')]));
      cases.forEach((c, i) => {
        assert.equal(rc2[i], 0, `case ${i}: openssl enc -d`);
        assert.deepEqual(new Uint8Array(readFileSync(c.f('back'))), c.pt, `case ${i}: openssl decryption of ours`);
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
function makeKeys(n: number): KeyFiles[] {
  const priv = (i: number): string => join(dir, `k${i}.pem`);
  const rc = opensslBatch('genpkey', Array.from({ length: n / 2 }, (_, j) => ['genpkey', '-algorithm', 'SM2', '-out', priv(2 * j)]));
  assert.deepEqual(rc, new Array(n / 2).fill(0));
  return Array.from({ length: n }, (_, i) => {
    let key: Sm2PrivateKey;
    if (i % 2 === 0) {
      key = importSm2PrivateKey(readFileSync(priv(i), 'utf8'));
    } else {
      key = Sm2PrivateKey.generate();
      writeFileSync(priv(i), sm2PrivateKeyToPem(key));
    }
    const pub = join(dir, `p${i}.pem`);
    writeFileSync(pub, sm2PublicKeyToPem(key.publicKey));
    return { key, priv: priv(i), pub };
  });
}

/** IDs: the default, printable ones, and arbitrary bytes of various lengths (always passed explicitly: pkeyutl's own default is empty). */
function idFor(i: number): Uint8Array | undefined {
  if (i % 3 === 0) return undefined;
  if (i % 3 === 1) return utf8ToBytes(`user${i}@example.cn`);
  return randomBytes(1 + randInt(64));
}
const idArgs = (id: Uint8Array | undefined): string[] => ['-pkeyopt', `hexdistid:${bytesToHex(id ?? utf8ToBytes('1234567812345678'))}`];
const idOpt = (id: Uint8Array | undefined): { id?: Uint8Array } => (id ? { id } : {});

describe('SM2 against openssl pkeyutl', () => {
  let keys: KeyFiles[] = [];
  before(() => {
    keys = makeKeys(8);
  });

  test(`openssl signs, we verify: ${CASES} cases, default and custom IDs`, () => {
    const cases = Array.from({ length: CASES }, (_, i) => {
      const c = { k: keys[i % keys.length], msg: randomBytes(randInt(300)), id: idFor(i), m: join(dir, `sm${i}`), sig: join(dir, `ss${i}`) };
      writeFileSync(c.m, c.msg);
      return c;
    });
    const rc = opensslBatch('sign', cases.map((c) => ['pkeyutl', '-sign', '-inkey', c.k.priv, '-rawin', '-digest', 'sm3', '-in', c.m, '-out', c.sig, ...idArgs(c.id)]));
    cases.forEach((c, i) => {
      assert.equal(rc[i], 0, `case ${i}: openssl pkeyutl -sign`);
      const sig = new Uint8Array(readFileSync(c.sig));
      assert.ok(sm2Verify(c.k.key.publicKey, c.msg, sig, idOpt(c.id)), `case ${i}`);
      // The same signature under another ID, or tampered, must fail.
      assert.ok(!sm2Verify(c.k.key.publicKey, c.msg, sig, { id: utf8ToBytes('other-id') }), `case ${i}: wrong id`);
      const bad = sig.slice();
      bad[bad.length - 1] ^= 1;
      assert.ok(!sm2Verify(c.k.key.publicKey, c.msg, bad, idOpt(c.id)), `case ${i}: tampered`);
    });
  });

  test(`we sign, openssl verifies: ${CASES} cases, default and custom IDs (and rejects tampered ones)`, () => {
    const cases = Array.from({ length: CASES }, (_, i) => {
      const c = { k: keys[i % keys.length], msg: randomBytes(randInt(300)), id: idFor(i + 1), m: join(dir, `vm${i}`), sig: join(dir, `vs${i}`), tampered: i % 20 === 0 };
      writeFileSync(c.m, c.msg);
      const sig = sm2Sign(c.k.key, c.msg, idOpt(c.id));
      // Every 20th is tampered, so a passing verdict from openssl is shown to mean something.
      if (c.tampered) sig[sig.length - 1] ^= 1;
      writeFileSync(c.sig, sig);
      return c;
    });
    const rc = opensslBatch('verify', cases.map((c) => ['pkeyutl', '-verify', '-pubin', '-inkey', c.k.pub, '-rawin', '-digest', 'sm3', '-in', c.m, '-sigfile', c.sig, ...idArgs(c.id)]));
    cases.forEach((c, i) => {
      if (c.tampered) assert.notEqual(rc[i], 0, `case ${i}: openssl accepted a tampered signature`);
      else assert.equal(rc[i], 0, `case ${i}: openssl rejected our signature`);
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

  test('SM2 encryption (GM/T 0009 DER) both ways: 50 cases', () => {
    const cases = Array.from({ length: 50 }, (_, i) => {
      const c = { k: keys[i % keys.length], msg: randomBytes(1 + randInt(200)), f: (w: string): string => join(dir, `e${w}${i}`) };
      writeFileSync(c.f('pt'), c.msg);
      writeFileSync(c.f('mine'), sm2Encrypt(c.k.key.publicKey, c.msg, { encoding: 'der' }));
      return c;
    });
    const rc = opensslBatch('sm2enc', [
      ...cases.map((c) => ['pkeyutl', '-encrypt', '-pubin', '-inkey', c.k.pub, '-in', c.f('pt'), '-out', c.f('theirs')]),
      ...cases.map((c) => ['pkeyutl', '-decrypt', '-inkey', c.k.priv, '-in', c.f('mine'), '-out', c.f('back')]),
    ]);
    assert.deepEqual(rc, new Array(100).fill(0));
    cases.forEach((c, i) => {
      assert.deepEqual(sm2Decrypt(c.k.key, new Uint8Array(readFileSync(c.f('theirs'))), { encoding: 'der' }), c.msg, `case ${i}: we decrypt openssl's`);
      assert.deepEqual(new Uint8Array(readFileSync(c.f('back'))), c.msg, `case ${i}: openssl decrypts ours`);
    });
  });
});
