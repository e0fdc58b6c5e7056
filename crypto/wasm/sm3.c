/*
 * SM3 compression kernel (GB/T 32905-2016 §5.3), freestanding C for wasm32.
 * ABI (crypto/wasm/README.md): one module, its own memory; TS writes the chaining value to
 * state_ptr() and message bytes to io_ptr(), then calls sm3_blocks(n) or sm3_digest(len).
 */
#include <stdint.h>

#define EXPORT(name) __attribute__((export_name(name)))
#define IO_SIZE 65536

static uint32_t state[8];
static uint8_t io[IO_SIZE + 128] __attribute__((aligned(16)));

EXPORT("io_ptr") uint8_t *io_ptr(void) { return io; }
EXPORT("io_size") uint32_t io_size(void) { return IO_SIZE; }
EXPORT("state_ptr") uint32_t *state_ptr(void) { return state; }

/* i32.rotl; every call site passes a constant in 1..31. */
static inline uint32_t rol(uint32_t x, unsigned n) { return __builtin_rotateleft32(x, n); }
static inline uint32_t be32(const uint8_t *p) {
  return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}
static inline void put_be32(uint8_t *p, uint32_t v) {
  p[0] = (uint8_t)(v >> 24); p[1] = (uint8_t)(v >> 16); p[2] = (uint8_t)(v >> 8); p[3] = (uint8_t)v;
}
#define P0(x) ((x) ^ rol((x), 9) ^ rol((x), 17))
#define P1(x) ((x) ^ rol((x), 15) ^ rol((x), 23))

/* T_j <<< (j mod 32), §4.2 and §5.3.3; public constants. */
static const uint32_t TJ[64] = {
#define T0(j) (uint32_t)((0x79cc4519u << (j)) | (0x79cc4519u >> ((32 - (j)) & 31)))
#define T1(j) (uint32_t)((0x7a879d8au << ((j) % 32)) | (0x7a879d8au >> ((32 - ((j) % 32)) & 31)))
  0x79cc4519u, T0(1), T0(2), T0(3), T0(4), T0(5), T0(6), T0(7), T0(8), T0(9), T0(10), T0(11), T0(12), T0(13), T0(14), T0(15),
  T1(16), T1(17), T1(18), T1(19), T1(20), T1(21), T1(22), T1(23), T1(24), T1(25), T1(26), T1(27), T1(28), T1(29), T1(30), T1(31),
  0x7a879d8au, T1(33), T1(34), T1(35), T1(36), T1(37), T1(38), T1(39), T1(40), T1(41), T1(42), T1(43), T1(44), T1(45), T1(46), T1(47),
  T1(48), T1(49), T1(50), T1(51), T1(52), T1(53), T1(54), T1(55), T1(56), T1(57), T1(58), T1(59), T1(60), T1(61), T1(62), T1(63),
};

static void compress(uint32_t *v, const uint8_t *p, uint32_t nblocks) {
  uint32_t w[68];
  while (nblocks--) {
    /* Fully unrolled, so w[] becomes wasm locals (registers), not linear memory. */
#pragma clang loop unroll(full)
    for (int j = 0; j < 16; j++) w[j] = be32(p + 4 * j);
    /* Message expansion, §5.3.2. */
#pragma clang loop unroll(full)
    for (int j = 16; j < 68; j++) w[j] = P1(w[j - 16] ^ w[j - 9] ^ rol(w[j - 3], 15)) ^ rol(w[j - 13], 7) ^ w[j - 6];
    uint32_t a = v[0], b = v[1], c = v[2], d = v[3], e = v[4], f = v[5], g = v[6], h = v[7];
    /* Rounds 0..15 use FF = GG = x^y^z, rounds 16..63 majority/choice (§4.3). */
#pragma clang loop unroll(full)
    for (int j = 0; j < 16; j++) {
      uint32_t a12 = rol(a, 12);
      uint32_t ss1 = rol(a12 + e + TJ[j], 7);
      uint32_t ss2 = ss1 ^ a12;
      uint32_t tt1 = (a ^ b ^ c) + d + ss2 + (w[j] ^ w[j + 4]);
      uint32_t tt2 = (e ^ f ^ g) + h + ss1 + w[j];
      d = c; c = rol(b, 9); b = a; a = tt1;
      h = g; g = rol(f, 19); f = e; e = P0(tt2);
    }
#pragma clang loop unroll(full)
    for (int j = 16; j < 64; j++) {
      uint32_t a12 = rol(a, 12);
      uint32_t ss1 = rol(a12 + e + TJ[j], 7);
      uint32_t ss2 = ss1 ^ a12;
      uint32_t tt1 = ((a & b) | (c & (a | b))) + d + ss2 + (w[j] ^ w[j + 4]);
      uint32_t tt2 = (g ^ (e & (f ^ g))) + h + ss1 + w[j];
      d = c; c = rol(b, 9); b = a; a = tt1;
      h = g; g = rol(f, 19); f = e; e = P0(tt2);
    }
    v[0] ^= a; v[1] ^= b; v[2] ^= c; v[3] ^= d; v[4] ^= e; v[5] ^= f; v[6] ^= g; v[7] ^= h;
    p += 64;
  }
  /* No wipe of w[]: it lives in wasm locals, outside linear memory, once unrolled. */
}

/* Compress n whole blocks from io into state. */
EXPORT("sm3_blocks") void sm3_blocks(uint32_t nblocks) { compress(state, io, nblocks); }

static void init(void);

/*
 * Finishes a message: hashes io[0..len) (len <= IO_SIZE), the last part of a message of `total`
 * bytes whose earlier blocks are already in the state (fresh = 1: none, start from the IV); pads
 * (§5.2), zeroes the input it read and writes the digest to io[0..32). One call per short message.
 */
EXPORT("sm3_finish") void sm3_finish(uint32_t len, uint32_t total_hi, uint32_t total_lo, uint32_t fresh) {
  if (fresh) init();
  uint32_t full = len / 64;
  compress(state, io, full);
  uint32_t rem = len % 64;
  uint8_t *tail = io + full * 64;
  uint8_t blk[128];
  for (uint32_t i = 0; i < rem; i++) blk[i] = tail[i];
  blk[rem] = 0x80;
  uint32_t n = rem < 56 ? 64 : 128;
  for (uint32_t i = rem + 1; i < n - 8; i++) blk[i] = 0;
  /* Length in bits, 64-bit big-endian. */
  put_be32(blk + n - 8, (total_hi << 3) | (total_lo >> 29));
  put_be32(blk + n - 4, total_lo << 3);
  compress(state, blk, n / 64);
  /* The input may be an HMAC pad: leave no copy (crypto/wasm/README.md rule 6). */
  for (uint32_t i = 0; i < len; i++) ((volatile uint8_t *)io)[i] = 0;
  for (uint32_t i = 0; i < n; i++) ((volatile uint8_t *)blk)[i] = 0;
  for (int i = 0; i < 8; i++) put_be32(io + 4 * i, state[i]);
}

/*
 * PBKDF2-HMAC-SM3 inner loop (RFC 8018 §5.2, RFC 2104): io[0..64) holds the HMAC key block
 * (K zero-padded to 64 bytes) and io[64..96) holds U_1. Computes U_j = HMAC(K, U_{j-1}) for
 * j = 2..iterations and writes T = U_1 ^ … ^ U_c to io[0..32); everything else it touched is
 * zeroed. Each step is two compressions from the precomputed inner and outer pad states.
 */
EXPORT("sm3_pbkdf2") void sm3_pbkdf2(uint32_t iterations) {
  static const uint32_t iv0[8] = {0x7380166fu, 0x4914b2b9u, 0x172442d7u, 0xda8a0600u,
                                  0xa96f30bcu, 0x163138aau, 0xe38dee4du, 0xb0fb0e4eu};
  uint32_t ist[8], ost[8], v[8], t[8];
  uint8_t blk[64];
  for (int i = 0; i < 64; i++) blk[i] = io[i] ^ 0x36;
  for (int i = 0; i < 8; i++) ist[i] = iv0[i];
  compress(ist, blk, 1);
  for (int i = 0; i < 64; i++) blk[i] = io[i] ^ 0x5c;
  for (int i = 0; i < 8; i++) ost[i] = iv0[i];
  compress(ost, blk, 1);
  /* blk = U ‖ 0x80 ‖ 0… ‖ [(64 + 32) · 8]_64: the padded second block of both hashes (§5.2). */
  for (int i = 0; i < 32; i++) blk[i] = io[64 + i];
  blk[32] = 0x80;
  for (int i = 33; i < 62; i++) blk[i] = 0;
  blk[62] = 0x03;
  blk[63] = 0x00;
  for (int i = 0; i < 8; i++) t[i] = be32(blk + 4 * i);
  for (uint32_t it = 1; it < iterations; it++) {
    for (int i = 0; i < 8; i++) v[i] = ist[i];
    compress(v, blk, 1);
    for (int i = 0; i < 8; i++) put_be32(blk + 4 * i, v[i]);
    for (int i = 0; i < 8; i++) v[i] = ost[i];
    compress(v, blk, 1);
    for (int i = 0; i < 8; i++) {
      put_be32(blk + 4 * i, v[i]);
      t[i] ^= v[i];
    }
  }
  for (int i = 0; i < 96; i++) ((volatile uint8_t *)io)[i] = 0;
  for (int i = 0; i < 8; i++) put_be32(io + 4 * i, t[i]);
  for (int i = 0; i < 64; i++) ((volatile uint8_t *)blk)[i] = 0;
  for (int i = 0; i < 8; i++) { ((volatile uint32_t *)ist)[i] = 0; ((volatile uint32_t *)ost)[i] = 0; ((volatile uint32_t *)v)[i] = 0; ((volatile uint32_t *)t)[i] = 0; }
}

/* Reset the chaining value to the IV (§4.1). */
static void init(void) {
  static const uint32_t iv[8] = {0x7380166fu, 0x4914b2b9u, 0x172442d7u, 0xda8a0600u,
                                 0xa96f30bcu, 0x163138aau, 0xe38dee4du, 0xb0fb0e4eu};
  for (int i = 0; i < 8; i++) state[i] = iv[i];
}
EXPORT("sm3_init") void sm3_init(void) { init(); }
