/*
 * SM3 compression (GB/T 32905-2016 §5.3), shared by the sm3 and sm2 kernels (sm2.c hashes
 * Z_A ‖ M and derives its hedged nonces with HMAC-SM3 inside one call). Header-only: each
 * including .c file gets its own static copy; no state lives here.
 */
#ifndef XIANGAN_SM3_CORE_H
#define XIANGAN_SM3_CORE_H
#include <stdint.h>
#ifdef SM3_CORE_VECTOR_LOAD
#include <wasm_simd128.h>
#endif

/* The initial value IV (§4.1). */
static const uint32_t SM3_IV[8] = {0x7380166fu, 0x4914b2b9u, 0x172442d7u, 0xda8a0600u,
                                   0xa96f30bcu, 0x163138aau, 0xe38dee4du, 0xb0fb0e4eu};

/* i32.rotl; every call site passes a constant in 1..31. */
static inline uint32_t rol(uint32_t x, unsigned n) { return __builtin_rotateleft32(x, n); }
static inline uint32_t be32(const uint8_t *p) {
  return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}
static inline void put_be32(uint8_t *p, uint32_t v) {
  p[0] = (uint8_t)(v >> 24); p[1] = (uint8_t)(v >> 16); p[2] = (uint8_t)(v >> 8); p[3] = (uint8_t)v;
}
/* The padding after a message's last partial block (§5.2): blk[0..rem) holds the tail; writes the
 * 1 bit, the zeros and the 64-bit length in bits (len_bytes < 2^32), and returns the bytes to
 * compress from blk (64 or 128). */
static inline uint32_t sm3_pad_tail(uint8_t *blk, uint32_t rem, uint32_t len_bytes) {
  blk[rem] = 0x80;
  uint32_t n = rem < 56 ? 64 : 128;
  for (uint32_t i = rem + 1; i < n - 8; i++) blk[i] = 0;
  put_be32(blk + n - 8, len_bytes >> 29);
  put_be32(blk + n - 4, len_bytes << 3);
  return n;
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
#ifdef SM3_CORE_VECTOR_LOAD
    /* Four big-endian words per 16-byte load and byte shuffle instead of four byte loads and
     * three shifts per word (about 5% of a compression in V8). sm3.c opts in; sm2.c keeps the
     * byte loads until its own module is rebuilt with this (its generated file is checked too). */
    /* The byte-swap indices pass through an empty asm: clang then keeps the swizzle (not a
     * generic shuffle, whose mask V8 rebuilds at every use) and V8 still sees a constant index,
     * so each is one pshufb. */
    v128_t bswap = wasm_i8x16_make(3, 2, 1, 0, 7, 6, 5, 4, 11, 10, 9, 8, 15, 14, 13, 12);
    __asm__("" : "+r"(bswap));
#pragma clang loop unroll(full)
    for (int q = 0; q < 4; q++) {
      v128_t x = wasm_i8x16_swizzle(wasm_v128_load(p + 16 * q), bswap);
      w[4 * q] = (uint32_t)wasm_i32x4_extract_lane(x, 0);
      w[4 * q + 1] = (uint32_t)wasm_i32x4_extract_lane(x, 1);
      w[4 * q + 2] = (uint32_t)wasm_i32x4_extract_lane(x, 2);
      w[4 * q + 3] = (uint32_t)wasm_i32x4_extract_lane(x, 3);
    }
#else
#pragma clang loop unroll(full)
    for (int j = 0; j < 16; j++) w[j] = be32(p + 4 * j);
#endif
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

#endif
