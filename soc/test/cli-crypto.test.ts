/**
 * The `xiangan sm3|hmac-sm3|sm4|sm2` commands, driven in-process through `main()` and once
 * through the real `bin/xiangan.js`, with OpenSSL as the independent other side.
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync, readFileSync, rmSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { tmpdir } from 'node:os';
import { Readable, Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { main } from '../src/cli/main.js';

const root = resolve(fileURLToPath(new URL('.', import.meta.url)), '../../..');
let dir = '';

interface Run {
  code: number;
  out: Buffer;
  err: string;
}

async function cli(argv: string[], stdin: Uint8Array | string = '', env: Record<string, string> = {}): Promise<Run> {
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  const sink = (to: Buffer[]): Writable =>
    new Writable({
      write(chunk: Buffer | string, _enc, cb) {
        to.push(Buffer.from(chunk));
        cb();
      },
    });
  const code = await main(argv, { stdin: Readable.from([Buffer.from(stdin)]), stdout: sink(out), stderr: sink(err), env, cwd: dir });
  return { code, out: Buffer.concat(out), err: Buffer.concat(err).toString() };
}

const openssl = (args: string[], input?: Uint8Array | string): Buffer => execFileSync('openssl', args, { cwd: dir, input, stdio: ['pipe', 'pipe', 'pipe'] });
const file = (name: string): string => join(dir, name);
const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

before(() => {
  dir = mkdtempSync(join(tmpdir(), 'xiangan-cli-'));
  writeFileSync(file('msg'), 'The quick brown fox jumps over the lazy dog\n');
});
after(() => rmSync(dir, { recursive: true, force: true }));

describe('xiangan sm3 / hmac-sm3', () => {
  test('sm3 of a file and of stdin equals openssl dgst -sm3', async () => {
    const expected = openssl(['dgst', '-sm3', '-r', 'msg']).toString().split(' ')[0];
    const a = await cli(['sm3', 'msg']);
    assert.equal(a.code, 0);
    assert.equal(a.out.toString(), `${expected}\n`);
    const b = await cli(['sm3'], readFileSync(file('msg')));
    assert.equal(b.out.toString(), `${expected}\n`);
  });

  test('hmac-sm3 equals openssl mac HMAC with SM3', async () => {
    const key = '000102030405060708090a0b0c0d0e0f';
    const expected = openssl(['mac', '-digest', 'SM3', '-macopt', `hexkey:${key}`, '-in', 'msg', 'HMAC']).toString().trim().toLowerCase();
    const r = await cli(['hmac-sm3', '--key', key, 'msg']);
    assert.equal(r.code, 0);
    assert.equal(r.out.toString().trim(), expected);
  });

  test('usage errors exit 2 with a message', async () => {
    assert.equal((await cli(['hmac-sm3', 'msg'])).code, 2);
    assert.equal((await cli(['sm3', '--bogus'])).code, 2);
    assert.equal((await cli(['sm4', 'encrypt', '--mode', 'nope', '--key', '00'])).code, 2);
    // Wrong key or IV lengths are misuse too.
    assert.equal((await cli(['sm4', 'encrypt', '--mode', 'cbc', '--key', '0011', '--iv', '00'.repeat(16)], 'x')).code, 2);
    assert.equal((await cli(['sm4', 'encrypt', '--mode', 'cbc', '--key', '00'.repeat(16), '--iv', '00'], 'x')).code, 2);
    const r = await cli(['sm2', 'dance']);
    assert.equal(r.code, 2);
    assert.match(r.err, /usage/);
  });
});

describe('xiangan sm4', () => {
  const key = '0123456789abcdeffedcba9876543210';
  const iv = '00112233445566778899aabbccddeeff';
  const data = Buffer.from('sixteen byte blk'.repeat(3) + 'tail');

  for (const mode of ['ecb', 'cbc', 'ctr', 'cfb', 'ofb'] as const) {
    test(`${mode} matches openssl enc and decrypts back`, async () => {
      const ivArgs = mode === 'ecb' ? [] : ['--iv', iv];
      const enc = await cli(['sm4', 'encrypt', '--mode', mode, '--key', key, ...ivArgs], data);
      assert.equal(enc.code, 0, enc.err);
      const ref = openssl(['enc', '-e', `-sm4-${mode}`, '-K', key, ...(mode === 'ecb' ? [] : ['-iv', iv])], data);
      assert.equal(hex(enc.out), hex(ref));
      writeFileSync(file(`ct-${mode}`), enc.out);
      const dec = await cli(['sm4', 'decrypt', '--mode', mode, '--key', key, ...ivArgs, '--in', `ct-${mode}`, '--out', `pt-${mode}`]);
      assert.equal(dec.code, 0, dec.err);
      assert.deepEqual(readFileSync(file(`pt-${mode}`)), data);
    });
  }

  test('cbc --no-padding needs whole blocks', async () => {
    const r = await cli(['sm4', 'encrypt', '--mode', 'cbc', '--no-padding', '--key', key, '--iv', iv], data.subarray(0, 32));
    assert.equal(r.code, 0);
    assert.equal(r.out.length, 32);
    assert.equal((await cli(['sm4', 'encrypt', '--mode', 'cbc', '--no-padding', '--key', key, '--iv', iv], data)).code, 2);
  });

  for (const mode of ['gcm', 'ccm'] as const) {
    test(`${mode} seals with AAD, and a tampered tag is CRYPTO_ERR_AUTH_TAG with no output`, async () => {
      const nonce = '00112233445566778899aabb';
      const args = ['--mode', mode, '--key', key, '--iv', nonce, '--aad', 'feedface'];
      const enc = await cli(['sm4', 'encrypt', ...args], data);
      assert.equal(enc.code, 0, enc.err);
      assert.equal(enc.out.length, data.length + 16);
      const dec = await cli(['sm4', 'decrypt', ...args], enc.out);
      assert.deepEqual(dec.out, data);
      const bad = Buffer.from(enc.out);
      bad[bad.length - 1] ^= 1;
      const r = await cli(['sm4', 'decrypt', ...args], bad);
      assert.equal(r.code, 1);
      assert.equal(r.out.length, 0);
      assert.match(r.err, /CRYPTO_ERR_AUTH_TAG/);
      const wrongAad = await cli(['sm4', 'decrypt', '--mode', mode, '--key', key, '--iv', nonce], enc.out);
      assert.equal(wrongAad.code, 1);
    });
  }

  test('xts round trip with a 32-byte key', async () => {
    const k2 = key + key.split('').reverse().join('');
    const enc = await cli(['sm4', 'encrypt', '--mode', 'xts', '--key', k2, '--iv', iv], data);
    assert.equal(enc.code, 0, enc.err);
    assert.equal(enc.out.length, data.length);
    const dec = await cli(['sm4', 'decrypt', '--mode', 'xts', '--key', k2, '--iv', iv], enc.out);
    assert.deepEqual(dec.out, data);
  });
});

describe('xiangan sm2', () => {
  test('keygen writes a PKCS#8 PEM (mode 0600) that openssl pkey reads; pubkey matches openssl', async () => {
    assert.equal((await cli(['sm2', 'keygen', '--out', 'k1.pem'])).code, 0);
    assert.equal(statSync(file('k1.pem')).mode & 0o777, 0o600);
    assert.match(openssl(['pkey', '-in', 'k1.pem', '-noout', '-text']).toString(), /ASN1 OID: SM2/);
    const pub = await cli(['sm2', 'pubkey', '--key', 'k1.pem']);
    assert.equal(pub.out.toString(), openssl(['pkey', '-in', 'k1.pem', '-pubout']).toString());
    writeFileSync(file('k1.pub'), pub.out);
  });

  test('encrypted keygen reads its passphrase from the environment only', async () => {
    const env = { KEYPASS: 'correct horse battery staple' };
    assert.equal((await cli(['sm2', 'keygen', '--out', 'enc.pem', '--passphrase-env', 'KEYPASS'], '', env)).code, 0);
    assert.match(readFileSync(file('enc.pem'), 'utf8'), /BEGIN ENCRYPTED PRIVATE KEY/);
    assert.equal((await cli(['sm2', 'pubkey', '--key', 'enc.pem', '--passphrase-env', 'KEYPASS'], '', env)).code, 0);
    const noPass = await cli(['sm2', 'pubkey', '--key', 'enc.pem']);
    assert.equal(noPass.code, 1);
    assert.match(noPass.err, /CRYPTO_ERR_KEY_DECRYPT/);
    const wrong = await cli(['sm2', 'pubkey', '--key', 'enc.pem', '--passphrase-env', 'KEYPASS'], '', { KEYPASS: 'wrong' });
    assert.match(wrong.err, /CRYPTO_ERR_KEY_DECRYPT/);
    assert.equal((await cli(['sm2', 'keygen', '--passphrase-env', 'UNSET_VAR'])).code, 2);
  });

  test('sign → openssl verifies (default and custom ID); openssl signs → verify exits 0, tampered exits 1', async () => {
    openssl(['genpkey', '-algorithm', 'SM2', '-out', 'ossl.pem']);
    openssl(['pkey', '-in', 'ossl.pem', '-pubout', '-out', 'ossl.pub']);
    for (const id of [undefined, 'alice@example.cn']) {
      const idArgs = id ? ['--id', id] : [];
      const distid = `distid:${id ?? '1234567812345678'}`;
      assert.equal((await cli(['sm2', 'sign', '--key', 'ossl.pem', '--in', 'msg', '--out', 'sig', ...idArgs])).code, 0);
      assert.match(openssl(['pkeyutl', '-verify', '-pubin', '-inkey', 'ossl.pub', '-rawin', '-digest', 'sm3', '-in', 'msg', '-sigfile', 'sig', '-pkeyopt', distid]).toString(), /Verified Successfully/);
      openssl(['pkeyutl', '-sign', '-inkey', 'ossl.pem', '-rawin', '-digest', 'sm3', '-in', 'msg', '-out', 'osig', '-pkeyopt', distid]);
      const ok = await cli(['sm2', 'verify', '--pubkey', 'ossl.pub', '--sig', 'osig', '--in', 'msg', ...idArgs]);
      assert.equal(ok.code, 0);
      assert.equal(ok.out.toString(), 'Verified OK\n');
      const other = await cli(['sm2', 'verify', '--pubkey', 'ossl.pub', '--sig', 'osig', '--id', 'mallory'], readFileSync(file('msg')));
      assert.equal(other.code, 1);
      assert.equal(other.out.toString(), 'Verification failure\n');
    }
    const tampered = readFileSync(file('msg'));
    tampered[0] ^= 1;
    assert.equal((await cli(['sm2', 'verify', '--pubkey', 'ossl.pub', '--sig', 'osig'], tampered)).code, 1);
  });

  test('keygen --format sec1 writes EC PRIVATE KEY that openssl reads; --id-hex takes binary IDs', async () => {
    const r = await cli(['sm2', 'keygen', '--format', 'sec1']);
    assert.match(r.out.toString(), /^-----BEGIN EC PRIVATE KEY-----/);
    writeFileSync(file('sec1.pem'), r.out);
    assert.match(openssl(['pkey', '-in', 'sec1.pem', '-noout', '-text']).toString(), /ASN1 OID: SM2/);
    const sig = await cli(['sm2', 'sign', '--key', 'sec1.pem', '--id-hex', '00ff7f80', '--in', 'msg', '--out', 'hexid.sig']);
    assert.equal(sig.code, 0, sig.err);
    openssl(['pkey', '-in', 'sec1.pem', '-pubout', '-out', 'sec1.pub']);
    assert.match(openssl(['pkeyutl', '-verify', '-pubin', '-inkey', 'sec1.pub', '-rawin', '-digest', 'sm3', '-in', 'msg', '-sigfile', 'hexid.sig', '-pkeyopt', 'hexdistid:00ff7f80']).toString(), /Verified Successfully/);
    assert.equal((await cli(['sm2', 'verify', '--pubkey', 'sec1.pub', '--sig', 'hexid.sig', '--id-hex', '00ff7f80', '--in', 'msg'])).code, 0);
    assert.equal((await cli(['sm2', 'verify', '--pubkey', 'sec1.pub', '--sig', 'hexid.sig', '--id', 'x', '--id-hex', '00', '--in', 'msg'])).code, 2);
  });

  test('--raw signatures are r‖s (64 bytes) and verify only as raw', async () => {
    const r = await cli(['sm2', 'sign', '--key', 'k1.pem', '--raw', '--in', 'msg']);
    assert.equal(r.out.length, 64);
    writeFileSync(file('raw.sig'), r.out);
    assert.equal((await cli(['sm2', 'verify', '--pubkey', 'k1.pub', '--sig', 'raw.sig', '--raw', '--in', 'msg'])).code, 0);
    assert.equal((await cli(['sm2', 'verify', '--pubkey', 'k1.pub', '--sig', 'raw.sig', '--in', 'msg'])).code, 1);
  });

  test('encrypt/decrypt in both orders and DER; openssl decrypts the DER form', async () => {
    const msg = readFileSync(file('msg'));
    for (const extra of [[], ['--order', 'c1c2c3'], ['--der']]) {
      const enc = await cli(['sm2', 'encrypt', '--key', 'k1.pub', ...extra], msg);
      assert.equal(enc.code, 0, enc.err);
      writeFileSync(file('ct'), enc.out);
      const dec = await cli(['sm2', 'decrypt', '--key', 'k1.pem', '--in', 'ct', ...extra]);
      assert.equal(dec.code, 0, dec.err);
      assert.deepEqual(dec.out, msg);
    }
    const der = await cli(['sm2', 'encrypt', '--key', 'k1.pem', '--der'], msg); // a private key file works as the recipient too
    assert.deepEqual(openssl(['pkeyutl', '-decrypt', '-inkey', 'k1.pem'], der.out), msg);
    const theirs = openssl(['pkeyutl', '-encrypt', '-pubin', '-inkey', 'k1.pub'], msg);
    assert.deepEqual((await cli(['sm2', 'decrypt', '--key', 'k1.pem', '--der'], theirs)).out, msg);
    const bad = Buffer.from(theirs);
    bad[bad.length - 1] ^= 1;
    const r = await cli(['sm2', 'decrypt', '--key', 'k1.pem', '--der'], bad);
    assert.equal(r.code, 1);
    assert.match(r.err, /CRYPTO_ERR_SM2_DECRYPT/);
    assert.equal(r.out.length, 0);
  });
});

test('the real bin/xiangan.js: sm3 from stdin, exit codes through the process', () => {
  const bin = join(root, 'bin', 'xiangan.js');
  const r = spawnSync(process.execPath, [bin, 'sm3'], { input: 'abc' });
  assert.equal(r.status, 0);
  // GB/T 32905-2016 Appendix A.1.
  assert.equal(r.stdout.toString(), '66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0\n');
  const v = spawnSync(process.execPath, [bin, 'sm2', 'verify', '--pubkey', file('k1.pub'), '--sig', file('osig')], { input: 'x' });
  assert.equal(v.status, 1);
  assert.equal(spawnSync(process.execPath, [bin, 'sm4'], { input: '' }).status, 2);
});
