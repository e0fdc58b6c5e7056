// Cross-checks of the SM2 API against sm-crypto-v2 1.15 (an independent implementation on
// @noble/curves) in both directions: ≥ 200 random cases each for sign/verify and for
// encrypt/decrypt in C1C3C2, C1C2C3 and GM/T 0009 DER. sm-crypto-v2 takes hex strings, its
// cipherMode 1 is C1C3C2 and 0 is C1C2C3, and its raw ciphertexts omit the 04 of C1.
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { sm2 as peer } from 'sm-crypto-v2';
import { Sm2KeyExchange, Sm2PrivateKey, Sm2PublicKey, bytesToHex, concatBytes, sm2Za, sm3, hexToBytes, randomBytes, sm2Decrypt, sm2Encrypt, sm2Sign, sm2Verify, utf8ToBytes } from '../src/index.js';

const CASES = 200;
type Mode = { order: 'c1c3c2' | 'c1c2c3'; encoding: 'raw' | 'der'; cipherMode: 0 | 1; asn1: boolean };
const MODES: Mode[] = [
  { order: 'c1c3c2', encoding: 'raw', cipherMode: 1, asn1: false },
  { order: 'c1c2c3', encoding: 'raw', cipherMode: 0, asn1: false },
  { order: 'c1c3c2', encoding: 'der', cipherMode: 1, asn1: true },
];

function randomId(i: number): string | undefined {
  if (i % 3 === 0) return undefined;
  const n = 1 + (randomBytes(1)[0] % 40);
  let s = '';
  for (const b of randomBytes(n)) s += String.fromCharCode(0x21 + (b % 94));
  return s;
}

function randomMsg(): Uint8Array {
  return randomBytes(1 + (randomBytes(1)[0] % 200));
}

describe('SM2 interop with sm-crypto-v2', () => {
  test(`our signatures verify in sm-crypto-v2 (${CASES} random keys, messages and IDs)`, () => {
    for (let i = 0; i < CASES; i++) {
      const key = Sm2PrivateKey.generate();
      const msg = randomMsg();
      const id = randomId(i);
      const sig = sm2Sign(key, msg, { id: id === undefined ? undefined : utf8ToBytes(id) });
      const pubHex = bytesToHex(key.publicKey.toBytes());
      assert.equal(peer.doVerifySignature(msg, bytesToHex(sig), pubHex, { hash: true, der: true, userId: id }), true, `case ${i}`);
    }
  });

  test(`sm-crypto-v2 signatures verify here, DER and raw (${CASES} random cases)`, () => {
    for (let i = 0; i < CASES; i++) {
      const kp = peer.generateKeyPairHex();
      const msg = randomMsg();
      const id = randomId(i);
      const der = i % 2 === 0;
      const sig = peer.doSignature(msg, kp.privateKey, { hash: true, der, userId: id, publicKey: kp.publicKey });
      const pub = Sm2PublicKey.fromBytes(hexToBytes(kp.publicKey));
      const opts = { id: id === undefined ? undefined : utf8ToBytes(id), format: der ? ('der' as const) : ('raw' as const) };
      assert.equal(sm2Verify(pub, msg, hexToBytes(sig), opts), true, `case ${i}`);
      // The private key imports to the same public key.
      assert.ok(Sm2PrivateKey.fromBytes(hexToBytes(kp.privateKey.padStart(64, '0'))).publicKey.equals(pub));
    }
  });

  test(`our ciphertexts decrypt in sm-crypto-v2 in every order and DER (${CASES} random cases)`, () => {
    for (let i = 0; i < CASES; i++) {
      const kp = peer.generateKeyPairHex();
      const pub = Sm2PublicKey.fromBytes(hexToBytes(kp.publicKey));
      const m = MODES[i % MODES.length];
      const msg = randomMsg();
      const ct = bytesToHex(sm2Encrypt(pub, msg, { order: m.order, encoding: m.encoding }));
      const input = m.asn1 ? ct : ct.slice(2); // raw: peer expects C1 without the 04 prefix
      const out = peer.doDecrypt(input, kp.privateKey, m.cipherMode, { output: 'array', asn1: m.asn1 });
      assert.equal(bytesToHex(out), bytesToHex(msg), `case ${i} ${m.order} ${m.encoding}`);
    }
  });

  test(`sm-crypto-v2 ciphertexts decrypt here in every order and DER (${CASES} random cases)`, () => {
    for (let i = 0; i < CASES; i++) {
      const key = Sm2PrivateKey.generate();
      const m = MODES[i % MODES.length];
      const msg = randomMsg();
      const ct = peer.doEncrypt(msg, bytesToHex(key.publicKey.toBytes()), m.cipherMode, { asn1: m.asn1 });
      const bytes = hexToBytes(m.asn1 ? ct : '04' + ct);
      assert.equal(bytesToHex(sm2Decrypt(key, bytes, { order: m.order, encoding: m.encoding })), bytesToHex(msg), `case ${i}`);
    }
  });

  test('e = SM3(Z_A || M) agrees with sm-crypto-v2 getHash for default and custom IDs', () => {
    const key = Sm2PrivateKey.generate();
    const pubHex = bytesToHex(key.publicKey.toBytes());
    const msg = utf8ToBytes('message digest');
    for (const id of [undefined, 'ALICE123@YAHOO.COM', 'x']) {
      const ours = sm3(concatBytes(sm2Za(key.publicKey, id === undefined ? undefined : utf8ToBytes(id)), msg));
      assert.equal(bytesToHex(ours), peer.getHash(msg, pubHex, id));
    }
  });

  test('key exchange (GB/T 32918.3) agrees with sm-crypto-v2 calculateSharedKey in both roles (50 random cases each)', () => {
    const hexPair = (k: Sm2PrivateKey) => ({ privateKey: bytesToHex(k.toBytes()), publicKey: bytesToHex(k.publicKey.toBytes()) });
    for (let i = 0; i < 100; i++) {
      const ours = Sm2PrivateKey.generate();
      const theirs = Sm2PrivateKey.generate();
      const ourId = randomId(i + 1) ?? 'ours';
      const theirId = randomId(i + 2) ?? 'theirs';
      const weInitiate = i % 2 === 0;
      const kx = new Sm2KeyExchange({ role: weInitiate ? 'initiator' : 'responder', privateKey: ours, id: utf8ToBytes(ourId) });
      const eph = peer.generateKeyPairHex();
      const klen = 1 + (i % 48);
      // sm-crypto-v2: (own static, own ephemeral, peer static, peer ephemeral, klen, isRecipient, own id, peer id)
      const theirKey = peer.calculateSharedKey(
        hexPair(theirs),
        eph,
        bytesToHex(ours.publicKey.toBytes()),
        bytesToHex(kx.ephemeralPublicKey.toBytes()),
        klen,
        weInitiate,
        theirId,
        ourId,
      );
      const res = kx.derive({ publicKey: theirs.publicKey, ephemeralPublicKey: Sm2PublicKey.fromBytes(hexToBytes(eph.publicKey)), id: utf8ToBytes(theirId) }, klen);
      assert.equal(bytesToHex(res.key), bytesToHex(theirKey), `case ${i}`);
    }
  });
});
