/*
 * SM4 (GB/T 32907-2016) and GHASH (NIST SP 800-38D §6.4) kernels, freestanding C for wasm32 + SIMD128.
 *
 * Constant time: the S-box is never indexed by a secret. sbox16() evaluates 16 bytes at once with
 * i8x16.swizzle against each of the 16 rows of the table; a lane whose index is >= 16 yields 0
 * (WebAssembly SIMD spec, i8x16.swizzle), so XOR-ing row h with the input's high nibble cleared
 * only where it equals h selects exactly one row per lane, with no data-dependent address.
 * GHASH multiplies with integer multiplications on operands masked so that carries land in
 * holes ("bmul"), never with tables.
 *
 * ABI (crypto/wasm/README.md): all operations work in place on io; key, round keys, IV/counter
 * and GHASH key/state live in static regions exposed by *_ptr().
 */
#include <stdint.h>
#include <wasm_simd128.h>

#define EXPORT(name) __attribute__((export_name(name)))
#define IO_SIZE 65536

static uint8_t io[IO_SIZE + 256] __attribute__((aligned(16)));
static uint8_t key[16] __attribute__((aligned(16)));
static uint32_t rk[32] __attribute__((aligned(16)));
static uint8_t iv[16] __attribute__((aligned(16)));
static uint8_t hkey[16] __attribute__((aligned(16)));

EXPORT("io_ptr") uint8_t *io_ptr(void) { return io; }
EXPORT("io_size") uint32_t io_size(void) { return IO_SIZE; }
EXPORT("key_ptr") uint8_t *key_ptr(void) { return key; }
EXPORT("rk_ptr") uint32_t *rk_ptr(void) { return rk; }
EXPORT("iv_ptr") uint8_t *iv_ptr(void) { return iv; }
EXPORT("h_ptr") uint8_t *h_ptr(void) { return hkey; }

/* GB/T 32907-2016 §6.2 S-box, row h = entries 16h..16h+15. */
static const uint8_t SBOX[256] __attribute__((aligned(16))) = {
  0xd6, 0x90, 0xe9, 0xfe, 0xcc, 0xe1, 0x3d, 0xb7, 0x16, 0xb6, 0x14, 0xc2, 0x28, 0xfb, 0x2c, 0x05,
  0x2b, 0x67, 0x9a, 0x76, 0x2a, 0xbe, 0x04, 0xc3, 0xaa, 0x44, 0x13, 0x26, 0x49, 0x86, 0x06, 0x99,
  0x9c, 0x42, 0x50, 0xf4, 0x91, 0xef, 0x98, 0x7a, 0x33, 0x54, 0x0b, 0x43, 0xed, 0xcf, 0xac, 0x62,
  0xe4, 0xb3, 0x1c, 0xa9, 0xc9, 0x08, 0xe8, 0x95, 0x80, 0xdf, 0x94, 0xfa, 0x75, 0x8f, 0x3f, 0xa6,
  0x47, 0x07, 0xa7, 0xfc, 0xf3, 0x73, 0x17, 0xba, 0x83, 0x59, 0x3c, 0x19, 0xe6, 0x85, 0x4f, 0xa8,
  0x68, 0x6b, 0x81, 0xb2, 0x71, 0x64, 0xda, 0x8b, 0xf8, 0xeb, 0x0f, 0x4b, 0x70, 0x56, 0x9d, 0x35,
  0x1e, 0x24, 0x0e, 0x5e, 0x63, 0x58, 0xd1, 0xa2, 0x25, 0x22, 0x7c, 0x3b, 0x01, 0x21, 0x78, 0x87,
  0xd4, 0x00, 0x46, 0x57, 0x9f, 0xd3, 0x27, 0x52, 0x4c, 0x36, 0x02, 0xe7, 0xa0, 0xc4, 0xc8, 0x9e,
  0xea, 0xbf, 0x8a, 0xd2, 0x40, 0xc7, 0x38, 0xb5, 0xa3, 0xf7, 0xf2, 0xce, 0xf9, 0x61, 0x15, 0xa1,
  0xe0, 0xae, 0x5d, 0xa4, 0x9b, 0x34, 0x1a, 0x55, 0xad, 0x93, 0x32, 0x30, 0xf5, 0x8c, 0xb1, 0xe3,
  0x1d, 0xf6, 0xe2, 0x2e, 0x82, 0x66, 0xca, 0x60, 0xc0, 0x29, 0x23, 0xab, 0x0d, 0x53, 0x4e, 0x6f,
  0xd5, 0xdb, 0x37, 0x45, 0xde, 0xfd, 0x8e, 0x2f, 0x03, 0xff, 0x6a, 0x72, 0x6d, 0x6c, 0x5b, 0x51,
  0x8d, 0x1b, 0xaf, 0x92, 0xbb, 0xdd, 0xbc, 0x7f, 0x11, 0xd9, 0x5c, 0x41, 0x1f, 0x10, 0x5a, 0xd8,
  0x0a, 0xc1, 0x31, 0x88, 0xa5, 0xcd, 0x7b, 0xbd, 0x2d, 0x74, 0xd0, 0x12, 0xb8, 0xe5, 0xb4, 0xb0,
  0x89, 0x69, 0x97, 0x4a, 0x0c, 0x96, 0x77, 0x7e, 0x65, 0xb9, 0xf1, 0x09, 0xc5, 0x6e, 0xc6, 0x84,
  0x18, 0xf0, 0x7d, 0xec, 0x3a, 0xdc, 0x4d, 0x20, 0x79, 0xee, 0x5f, 0x3e, 0xd7, 0xcb, 0x39, 0x48,};

static inline v128_t sbox16(v128_t x) {
  const v128_t *t = (const v128_t *)SBOX;
  v128_t a[4];
  for (int h = 0; h < 4; h++) a[h] = wasm_i8x16_swizzle(t[h], wasm_v128_xor(x, wasm_i8x16_splat((int8_t)(h << 4))));
  for (int h = 4; h < 16; h++)
    a[h & 3] = wasm_v128_xor(a[h & 3], wasm_i8x16_swizzle(t[h], wasm_v128_xor(x, wasm_i8x16_splat((int8_t)(h << 4)))));
  return wasm_v128_xor(wasm_v128_xor(a[0], a[1]), wasm_v128_xor(a[2], a[3]));
}

/* Rotations of each 32-bit lane (little-endian lanes) by whole bytes are byte shuffles. */
#define ROT8(v) wasm_i8x16_shuffle(v, v, 3, 0, 1, 2, 7, 4, 5, 6, 11, 8, 9, 10, 15, 12, 13, 14)
#define ROT16(v) wasm_i8x16_shuffle(v, v, 2, 3, 0, 1, 6, 7, 4, 5, 10, 11, 8, 9, 14, 15, 12, 13)
#define ROT24(v) wasm_i8x16_shuffle(v, v, 1, 2, 3, 0, 5, 6, 7, 4, 9, 10, 11, 8, 13, 14, 15, 12)
#define BSWAP32(v) wasm_i8x16_shuffle(v, v, 3, 2, 1, 0, 7, 6, 5, 4, 11, 10, 9, 8, 15, 14, 13, 12)

/* T = L ∘ τ (§6.2): L(B) = B ^ (B<<<2) ^ (B<<<10) ^ (B<<<18) ^ (B<<<24), four words per vector. */
static inline v128_t round_t(v128_t s) {
  s = sbox16(s);
  v128_t r2 = wasm_v128_or(wasm_i32x4_shl(s, 2), wasm_u32x4_shr(s, 30));
  return wasm_v128_xor(wasm_v128_xor(s, r2), wasm_v128_xor(wasm_v128_xor(ROT8(r2), ROT16(r2)), ROT24(s)));
}

static inline uint32_t rol32(uint32_t x, unsigned n) { return (x << n) | (x >> (32 - n)); }
static inline uint32_t be32(const uint8_t *p) {
  return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}
static inline void put_be32(uint8_t *p, uint32_t v) {
  p[0] = (uint8_t)(v >> 24); p[1] = (uint8_t)(v >> 16); p[2] = (uint8_t)(v >> 8); p[3] = (uint8_t)v;
}
static inline uint32_t tau1(uint32_t w) { return (uint32_t)wasm_i32x4_extract_lane(sbox16(wasm_i32x4_splat((int32_t)w)), 0); }

/*
 * Encrypts G groups of 4 blocks (G = 1 or 2) in place. Each group is transposed so that vector
 * x[g][j] holds word j of the four blocks; two groups interleave to fill the SIMD pipeline.
 */
static inline __attribute__((always_inline)) void encrypt_groups(uint8_t *p, int G) {
  v128_t x[2][4];
  for (int g = 0; g < G; g++) {
    v128_t a = BSWAP32(wasm_v128_load(p + 64 * g)), b = BSWAP32(wasm_v128_load(p + 64 * g + 16));
    v128_t c = BSWAP32(wasm_v128_load(p + 64 * g + 32)), d = BSWAP32(wasm_v128_load(p + 64 * g + 48));
    v128_t t0 = wasm_i32x4_shuffle(a, b, 0, 4, 1, 5), t1 = wasm_i32x4_shuffle(a, b, 2, 6, 3, 7);
    v128_t t2 = wasm_i32x4_shuffle(c, d, 0, 4, 1, 5), t3 = wasm_i32x4_shuffle(c, d, 2, 6, 3, 7);
    x[g][0] = wasm_i64x2_shuffle(t0, t2, 0, 2); x[g][1] = wasm_i64x2_shuffle(t0, t2, 1, 3);
    x[g][2] = wasm_i64x2_shuffle(t1, t3, 0, 2); x[g][3] = wasm_i64x2_shuffle(t1, t3, 1, 3);
  }
  /* X_{i+4} = X_i ^ T(X_{i+1} ^ X_{i+2} ^ X_{i+3} ^ rk_i), §7.1; unrolled by 4 to rotate names. */
  for (int i = 0; i < 32; i += 4) {
    for (int j = 0; j < 4; j++) {
      v128_t k = wasm_i32x4_splat((int32_t)rk[i + j]);
      for (int g = 0; g < G; g++) {
        v128_t t = wasm_v128_xor(wasm_v128_xor(x[g][(j + 1) & 3], x[g][(j + 2) & 3]), wasm_v128_xor(x[g][(j + 3) & 3], k));
        x[g][j] = wasm_v128_xor(x[g][j], round_t(t));
      }
    }
  }
  /* Output (X35, X34, X33, X32), §7.1 reverse transform. */
  for (int g = 0; g < G; g++) {
    v128_t a = x[g][3], b = x[g][2], c = x[g][1], d = x[g][0];
    v128_t t0 = wasm_i32x4_shuffle(a, b, 0, 4, 1, 5), t1 = wasm_i32x4_shuffle(a, b, 2, 6, 3, 7);
    v128_t t2 = wasm_i32x4_shuffle(c, d, 0, 4, 1, 5), t3 = wasm_i32x4_shuffle(c, d, 2, 6, 3, 7);
    wasm_v128_store(p + 64 * g, BSWAP32(wasm_i64x2_shuffle(t0, t2, 0, 2)));
    wasm_v128_store(p + 64 * g + 16, BSWAP32(wasm_i64x2_shuffle(t0, t2, 1, 3)));
    wasm_v128_store(p + 64 * g + 32, BSWAP32(wasm_i64x2_shuffle(t1, t3, 0, 2)));
    wasm_v128_store(p + 64 * g + 48, BSWAP32(wasm_i64x2_shuffle(t1, t3, 1, 3)));
  }
}

/* Encrypts n blocks at p in place; may also transform up to 7 blocks past n (io has slack). */
static void encrypt_many(uint8_t *p, uint32_t n) {
  if (n <= 4) { if (n) encrypt_groups(p, 1); return; }
  for (uint32_t i = 0; i < n; i += 8) encrypt_groups(p + 16 * i, 2);
}

/* One block, serially (CBC encrypt, CFB encrypt, OFB): scalar words, S-box through sbox16. */
static void encrypt_one(uint8_t *b) {
  uint32_t x0 = be32(b), x1 = be32(b + 4), x2 = be32(b + 8), x3 = be32(b + 12);
  for (int i = 0; i < 32; i += 4) {
#define RND(a, b1, c, d, k)                                                                    \
  do {                                                                                         \
    uint32_t s = tau1(b1 ^ c ^ d ^ rk[k]);                                                     \
    a ^= s ^ rol32(s, 2) ^ rol32(s, 10) ^ rol32(s, 18) ^ rol32(s, 24);                         \
  } while (0)
    RND(x0, x1, x2, x3, i); RND(x1, x2, x3, x0, i + 1); RND(x2, x3, x0, x1, i + 2); RND(x3, x0, x1, x2, i + 3);
  }
  put_be32(b, x3); put_be32(b + 4, x2); put_be32(b + 8, x1); put_be32(b + 12, x0);
}

static const uint32_t FK[4] = {0xa3b1bac6u, 0x56aa3350u, 0x677d9197u, 0xb27022dcu};

/* Key schedule (§7.3) from key[]; decrypt=1 stores the round keys reversed (§7.2). Wipes key[]. */
EXPORT("sm4_expand_key") void sm4_expand_key(uint32_t decrypt) {
  uint32_t k[4];
  for (int i = 0; i < 4; i++) k[i] = be32(key + 4 * i) ^ FK[i];
  for (int i = 0; i < 32; i++) {
    /* CK_i byte j = (4i + j) * 7 mod 256. */
    uint32_t ck = 0;
    for (int j = 0; j < 4; j++) ck = (ck << 8) | (uint32_t)(((4 * i + j) * 7) & 0xff);
    uint32_t s = tau1(k[(i + 1) & 3] ^ k[(i + 2) & 3] ^ k[(i + 3) & 3] ^ ck);
    k[i & 3] ^= s ^ rol32(s, 13) ^ rol32(s, 23);
    rk[decrypt ? 31 - i : i] = k[i & 3];
  }
  for (int i = 0; i < 4; i++) ((volatile uint32_t *)k)[i] = 0;
  for (int i = 0; i < 16; i++) ((volatile uint8_t *)key)[i] = 0;
}

static inline v128_t ld(const uint8_t *p) { return wasm_v128_load(p); }
static inline void st(uint8_t *p, v128_t v) { wasm_v128_store(p, v); }

/* ECB over n blocks of io with the loaded round keys (encrypt or decrypt schedule). */
EXPORT("sm4_ecb") void sm4_ecb(uint32_t n) { encrypt_many(io, n); }

/* CBC encryption (GB/T 17964-2021 CBC mode): serial by nature. iv[] is updated to the last block. */
EXPORT("sm4_cbc_encrypt") void sm4_cbc_encrypt(uint32_t n) {
  v128_t c = ld(iv);
  for (uint32_t i = 0; i < n; i++) {
    uint8_t *b = io + 16 * i;
    st(b, wasm_v128_xor(ld(b), c));
    encrypt_one(b);
    c = ld(b);
  }
  st(iv, c);
}

/* CBC decryption with the decrypt schedule: eight blocks at a time. */
EXPORT("sm4_cbc_decrypt") void sm4_cbc_decrypt(uint32_t n) {
  uint8_t save[128] __attribute__((aligned(16)));
  v128_t prev = ld(iv);
  for (uint32_t i = 0; i < n; i += 8) {
    uint8_t *b = io + 16 * i;
    uint32_t m = n - i < 8 ? n - i : 8;
    for (uint32_t j = 0; j < 8; j++) st(save + 16 * j, ld(b + 16 * j));
    encrypt_many(b, m);
    for (uint32_t j = 0; j < m; j++) {
      st(b + 16 * j, wasm_v128_xor(ld(b + 16 * j), prev));
      prev = ld(save + 16 * j);
    }
  }
  st(iv, prev);
}

static inline uint64_t bswap64(uint64_t v) { return __builtin_bswap64(v); }

/*
 * CTR: XOR len bytes of io with E(ctr), E(ctr+1), …; iv[] holds the big-endian counter block and
 * is advanced by ceil(len/16). inc32=1 increments only the low 32 bits (GCM's inc32, SP 800-38D
 * §6.2); inc32=0 the whole 128-bit block (the vectors' CTR convention).
 */
EXPORT("sm4_ctr") void sm4_ctr(uint32_t len, uint32_t inc32) {
  uint8_t ks[128] __attribute__((aligned(16)));
  uint64_t hi = bswap64(*(uint64_t *)iv), lo = bswap64(*(uint64_t *)(iv + 8));
  uint32_t nb = (len + 15) / 16;
  for (uint32_t i = 0; i < nb; i += 8) {
    uint32_t m = nb - i < 8 ? nb - i : 8;
    for (uint32_t j = 0; j < 8; j++) {
      st(ks + 16 * j, wasm_i64x2_make((int64_t)bswap64(hi), (int64_t)bswap64(lo)));
      if (inc32) lo = (lo & 0xffffffff00000000ull) | (uint32_t)(lo + 1);
      else { lo++; hi += (lo == 0); }
    }
    encrypt_many(ks, m);
    uint8_t *b = io + 16 * i;
    for (uint32_t j = 0; j < 8; j++) st(b + 16 * j, wasm_v128_xor(ld(b + 16 * j), ld(ks + 16 * j)));
    if (m < 8) { /* rewind the counter for the blocks computed but not used */
      for (uint32_t j = m; j < 8; j++) {
        if (inc32) lo = (lo & 0xffffffff00000000ull) | (uint32_t)(lo - 1);
        else { hi -= (lo == 0); lo--; }
      }
    }
  }
  *(uint64_t *)iv = bswap64(hi);
  *(uint64_t *)(iv + 8) = bswap64(lo);
  for (int i = 0; i < 128; i++) ((volatile uint8_t *)ks)[i] = 0;
}

/* OFB (serial): O_i = E(O_{i-1}); the last block may be partial. */
EXPORT("sm4_ofb") void sm4_ofb(uint32_t len) {
  for (uint32_t off = 0; off < len; off += 16) {
    encrypt_one(iv);
    uint8_t *b = io + off;
    st(b, wasm_v128_xor(ld(b), ld(iv)));
  }
}

/* CFB-128 encryption (serial): C_i = P_i ^ E(C_{i-1}). */
EXPORT("sm4_cfb_encrypt") void sm4_cfb_encrypt(uint32_t len) {
  uint8_t t[16] __attribute__((aligned(16)));
  st(t, ld(iv));
  for (uint32_t off = 0; off < len; off += 16) {
    encrypt_one(t);
    uint8_t *b = io + off;
    st(b, wasm_v128_xor(ld(b), ld(t)));
    st(t, ld(b));
  }
  st(iv, ld(t)); /* carries to the next chunk (only whole-block chunks are continued) */
  for (int i = 0; i < 16; i++) ((volatile uint8_t *)t)[i] = 0;
}

/* CFB-128 decryption (parallel): P_i = C_i ^ E(C_{i-1}). */
EXPORT("sm4_cfb_decrypt") void sm4_cfb_decrypt(uint32_t len) {
  uint8_t ks[128] __attribute__((aligned(16)));
  v128_t prev = ld(iv);
  uint32_t nb = (len + 15) / 16;
  for (uint32_t i = 0; i < nb; i += 8) {
    uint32_t m = nb - i < 8 ? nb - i : 8;
    uint8_t *b = io + 16 * i;
    st(ks, prev);
    for (uint32_t j = 1; j < 8; j++) st(ks + 16 * j, ld(b + 16 * (j - 1)));
    prev = ld(b + 16 * (m - 1));
    encrypt_many(ks, m);
    for (uint32_t j = 0; j < 8; j++) st(b + 16 * j, wasm_v128_xor(ld(b + 16 * j), ld(ks + 16 * j)));
  }
  st(iv, prev);
  for (int i = 0; i < 128; i++) ((volatile uint8_t *)ks)[i] = 0;
}

/*
 * Carry-less 64x64 -> low 64 bits with ordinary multiplications: each operand is split into four
 * parts holding every fourth bit, so a partial product's carries fall into bits later masked off.
 */
static inline uint64_t bmul64(uint64_t x, uint64_t y) {
  const uint64_t m0 = 0x1111111111111111ull, m1 = m0 << 1, m2 = m0 << 2, m3 = m0 << 3;
  uint64_t x0 = x & m0, x1 = x & m1, x2 = x & m2, x3 = x & m3;
  uint64_t y0 = y & m0, y1 = y & m1, y2 = y & m2, y3 = y & m3;
  uint64_t z0 = (x0 * y0) ^ (x1 * y3) ^ (x2 * y2) ^ (x3 * y1);
  uint64_t z1 = (x0 * y1) ^ (x1 * y0) ^ (x2 * y3) ^ (x3 * y2);
  uint64_t z2 = (x0 * y2) ^ (x1 * y1) ^ (x2 * y0) ^ (x3 * y3);
  uint64_t z3 = (x0 * y3) ^ (x1 * y2) ^ (x2 * y1) ^ (x3 * y0);
  return (z0 & m0) | (z1 & m1) | (z2 & m2) | (z3 & m3);
}

static inline uint64_t rev64(uint64_t x) {
  x = ((x & 0x5555555555555555ull) << 1) | ((x >> 1) & 0x5555555555555555ull);
  x = ((x & 0x3333333333333333ull) << 2) | ((x >> 2) & 0x3333333333333333ull);
  x = ((x & 0x0f0f0f0f0f0f0f0full) << 4) | ((x >> 4) & 0x0f0f0f0f0f0f0f0full);
  return bswap64(x);
}

/*
 * GHASH over n blocks of io (SP 800-38D §6.4): Y = (Y ^ X_i) · H in GF(2^128) with GCM's
 * reflected bit order; Y lives in iv[], H in hkey[]. Karatsuba over 64-bit halves; the high
 * halves of the carry-less products come from bit-reversed operands. Reduction by
 * x^128 + x^7 + x^2 + x + 1.
 */
EXPORT("ghash") void ghash(uint32_t n) {
  uint64_t h1 = bswap64(*(uint64_t *)hkey), h0 = bswap64(*(uint64_t *)(hkey + 8));
  uint64_t h2 = h0 ^ h1, h0r = rev64(h0), h1r = rev64(h1), h2r = h0r ^ h1r;
  uint64_t y1 = bswap64(*(uint64_t *)iv), y0 = bswap64(*(uint64_t *)(iv + 8));
  for (uint32_t i = 0; i < n; i++) {
    const uint8_t *b = io + 16 * i;
    y1 ^= bswap64(*(const uint64_t *)b);
    y0 ^= bswap64(*(const uint64_t *)(b + 8));
    uint64_t y0r = rev64(y0), y1r = rev64(y1), y2 = y0 ^ y1, y2r = y0r ^ y1r;
    uint64_t z0 = bmul64(y0, h0), z1 = bmul64(y1, h1), z2 = bmul64(y2, h2);
    uint64_t z0h = bmul64(y0r, h0r), z1h = bmul64(y1r, h1r), z2h = bmul64(y2r, h2r);
    z2 ^= z0 ^ z1;
    z2h ^= z0h ^ z1h;
    z0h = rev64(z0h) >> 1;
    z1h = rev64(z1h) >> 1;
    z2h = rev64(z2h) >> 1;
    uint64_t v0 = z0, v1 = z0h ^ z2, v2 = z1 ^ z2h, v3 = z1h;
    v3 = (v3 << 1) | (v2 >> 63);
    v2 = (v2 << 1) | (v1 >> 63);
    v1 = (v1 << 1) | (v0 >> 63);
    v0 = v0 << 1;
    v2 ^= v0 ^ (v0 >> 1) ^ (v0 >> 2) ^ (v0 >> 7);
    v1 ^= (v0 << 63) ^ (v0 << 62) ^ (v0 << 57);
    v3 ^= v1 ^ (v1 >> 1) ^ (v1 >> 2) ^ (v1 >> 7);
    v2 ^= (v1 << 63) ^ (v1 << 62) ^ (v1 << 57);
    y0 = v2;
    y1 = v3;
  }
  *(uint64_t *)iv = bswap64(y1);
  *(uint64_t *)(iv + 8) = bswap64(y0);
}

/* Zeroes the key material and the first len bytes of io. */
EXPORT("wipe") void wipe(uint32_t len) {
  volatile uint8_t *p = io;
  for (uint32_t i = 0; i < len && i < IO_SIZE + 256; i++) p[i] = 0;
  for (int i = 0; i < 32; i++) ((volatile uint32_t *)rk)[i] = 0;
  for (int i = 0; i < 16; i++) { ((volatile uint8_t *)key)[i] = 0; ((volatile uint8_t *)iv)[i] = 0; ((volatile uint8_t *)hkey)[i] = 0; }
}
