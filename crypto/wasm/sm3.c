/*
 * SM3 compression kernel (GB/T 32905-2016 §5.3), freestanding C for wasm32.
 * ABI (crypto/wasm/README.md): one module, its own memory; TS writes the chaining value to
 * state_ptr() and message bytes to io_ptr(), then calls sm3_blocks(n) or sm3_digest(len).
 */
#include <stdint.h>
#include <wasm_simd128.h>

#define EXPORT(name) __attribute__((export_name(name)))
#define IO_SIZE 65536

static uint32_t state[8] __attribute__((aligned(16)));
static uint8_t io[IO_SIZE + 128] __attribute__((aligned(16)));

EXPORT("io_ptr") uint8_t *io_ptr(void) { return io; }
EXPORT("io_size") uint32_t io_size(void) { return IO_SIZE; }
EXPORT("state_ptr") uint32_t *state_ptr(void) { return state; }

/* Whole-vector block loads in compress() (sm3-core.h). */
#define SM3_CORE_VECTOR_LOAD 1
#include "sm3-core.h"

/* Big-endian words: reverse the bytes of each 32-bit lane. A swizzle whose constant index goes
 * through an empty asm, as in compress() (sm3-core.h): one pshufb in V8. */
static inline __attribute__((always_inline)) v128_t bswap32x4(v128_t x) {
  v128_t idx = wasm_i8x16_make(3, 2, 1, 0, 7, 6, 5, 4, 11, 10, 9, 8, 15, 14, 13, 12);
  __asm__("" : "+r"(idx));
  return wasm_i8x16_swizzle(x, idx);
}
#define BSWAP32(x) bswap32x4(x)

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
  const uint8_t *tail = io + full * 64;
  /* The padded tail (§5.2) built with 16-byte moves, not byte loops: this call is the whole
   * cost of a short message besides two compressions. Reading past len stays inside io (its
   * slack covers a 64-byte over-read); bytes at and past rem are masked to zero. */
  uint8_t blk[128] __attribute__((aligned(16)));
  const v128_t idx = wasm_i8x16_make(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
  const v128_t vrem = wasm_i8x16_splat((int8_t)rem);
#pragma clang loop unroll(full)
  for (int q = 0; q < 4; q++) {
    v128_t keep = wasm_u8x16_lt(wasm_i8x16_add(idx, wasm_i8x16_splat((int8_t)(16 * q))), vrem);
    wasm_v128_store(blk + 16 * q, wasm_v128_and(wasm_v128_load(tail + 16 * q), keep));
    wasm_v128_store(blk + 64 + 16 * q, wasm_i64x2_splat(0));
  }
  blk[rem] = 0x80;
  uint32_t n = rem < 56 ? 64 : 128;
  /* Length in bits, 64-bit big-endian. */
  put_be32(blk + n - 8, (total_hi << 3) | (total_lo >> 29));
  put_be32(blk + n - 4, total_lo << 3);
  compress(state, blk, n / 64);
  /* The input may be an HMAC pad: leave no copy (crypto/wasm/README.md rule 6). io has slack
   * past len, so whole 16-byte stores may overshoot. */
  volatile v128_t *wio = (volatile v128_t *)io, *wblk = (volatile v128_t *)blk;
  for (uint32_t i = 0; i < (len + 15) / 16; i++) wio[i] = wasm_i64x2_splat(0);
  for (uint32_t i = 0; i < n / 16; i++) wblk[i] = wasm_i64x2_splat(0);
  /* Digest out as big-endian words: one byte swap per 16 bytes. */
  wasm_v128_store(io, BSWAP32(wasm_v128_load(state)));
  wasm_v128_store(io + 16, BSWAP32(wasm_v128_load(state + 4)));
}

/*
 * PBKDF2-HMAC-SM3 inner loop (RFC 8018 §5.2, RFC 2104): io[0..64) holds the HMAC key block
 * (K zero-padded to 64 bytes) and io[64..96) holds U_1. Computes U_j = HMAC(K, U_{j-1}) for
 * j = 2..iterations and writes T = U_1 ^ … ^ U_c to io[0..32); everything else it touched is
 * zeroed. Each step is two compressions from the precomputed inner and outer pad states.
 */
EXPORT("sm3_pbkdf2") void sm3_pbkdf2(uint32_t iterations) {
  uint32_t ist[8], ost[8], v[8], t[8];
  uint8_t blk[64];
  for (int i = 0; i < 64; i++) blk[i] = io[i] ^ 0x36;
  for (int i = 0; i < 8; i++) ist[i] = SM3_IV[i];
  compress(ist, blk, 1);
  for (int i = 0; i < 64; i++) blk[i] = io[i] ^ 0x5c;
  for (int i = 0; i < 8; i++) ost[i] = SM3_IV[i];
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
  for (int i = 0; i < 8; i++) state[i] = SM3_IV[i];
}
EXPORT("sm3_init") void sm3_init(void) { init(); }

/*
 * Batch SM3 of many short independent messages, four at a time: one message per i32x4 lane of
 * wasm SIMD128 (issues 3 and 7: event ids and integrity leaves hash many 50–300-byte messages,
 * where one scalar compression leaves three quarters of a 128-bit register idle).
 * Input: the messages back to back in io, their lengths in many_len[0..count); output: digest i
 * at many_out[32i..32i+32). Each lane is padded on its own (§5.2); a group runs as many blocks as
 * its longest message and a lane that has finished keeps its chaining value through a mask.
 */
#define MANY_MAX 2048
static uint32_t many_len[MANY_MAX];
static uint8_t many_out[MANY_MAX * 32] __attribute__((aligned(16)));

EXPORT("many_len_ptr") uint32_t *many_len_ptr(void) { return many_len; }
EXPORT("many_out_ptr") uint8_t *many_out_ptr(void) { return many_out; }
EXPORT("many_max") uint32_t many_max(void) { return MANY_MAX; }

/* SIMD128 has no lane rotate: shl | shr, n a constant in 1..31 once inlined. */
static inline v128_t vrol(v128_t x, unsigned n) { return wasm_v128_or(wasm_i32x4_shl(x, n), wasm_u32x4_shr(x, 32 - n)); }
#define VP0(x) wasm_v128_xor(wasm_v128_xor((x), vrol((x), 9)), vrol((x), 17))
#define VP1(x) wasm_v128_xor(wasm_v128_xor((x), vrol((x), 15)), vrol((x), 23))
#define VADD(a, b) wasm_i32x4_add((a), (b))

/*
 * One block of each of four messages (p[l] for lane l) into v[0..8); lanes whose mask is 0 keep
 * their old value. Same rounds as compress() in sm3-core.h, lane-wise.
 */
static void compress4(v128_t *v, const uint8_t *const p[4], v128_t mask) {
  v128_t w[68];
  /* Load 16 bytes of each lane and transpose 4×4 so that w[j] holds word j of all four lanes. */
#pragma clang loop unroll(full)
  for (int q = 0; q < 4; q++) {
    v128_t r0 = BSWAP32(wasm_v128_load(p[0] + 16 * q)), r1 = BSWAP32(wasm_v128_load(p[1] + 16 * q));
    v128_t r2 = BSWAP32(wasm_v128_load(p[2] + 16 * q)), r3 = BSWAP32(wasm_v128_load(p[3] + 16 * q));
    v128_t t0 = wasm_i32x4_shuffle(r0, r1, 0, 4, 1, 5), t1 = wasm_i32x4_shuffle(r0, r1, 2, 6, 3, 7);
    v128_t t2 = wasm_i32x4_shuffle(r2, r3, 0, 4, 1, 5), t3 = wasm_i32x4_shuffle(r2, r3, 2, 6, 3, 7);
    w[4 * q + 0] = wasm_i32x4_shuffle(t0, t2, 0, 1, 4, 5);
    w[4 * q + 1] = wasm_i32x4_shuffle(t0, t2, 2, 3, 6, 7);
    w[4 * q + 2] = wasm_i32x4_shuffle(t1, t3, 0, 1, 4, 5);
    w[4 * q + 3] = wasm_i32x4_shuffle(t1, t3, 2, 3, 6, 7);
  }
  /* Message expansion, §5.3.2. */
#pragma clang loop unroll(full)
  for (int j = 16; j < 68; j++) {
    v128_t x = wasm_v128_xor(wasm_v128_xor(w[j - 16], w[j - 9]), vrol(w[j - 3], 15));
    w[j] = wasm_v128_xor(wasm_v128_xor(VP1(x), vrol(w[j - 13], 7)), w[j - 6]);
  }
  v128_t a = v[0], b = v[1], c = v[2], d = v[3], e = v[4], f = v[5], g = v[6], h = v[7];
#pragma clang loop unroll(full)
  for (int j = 0; j < 64; j++) {
    v128_t a12 = vrol(a, 12);
    v128_t ss1 = vrol(VADD(VADD(a12, e), wasm_i32x4_splat((int32_t)TJ[j])), 7);
    v128_t ss2 = wasm_v128_xor(ss1, a12);
    v128_t ff, gg;
    if (j < 16) {
      ff = wasm_v128_xor(wasm_v128_xor(a, b), c);
      gg = wasm_v128_xor(wasm_v128_xor(e, f), g);
    } else {
      ff = wasm_v128_bitselect(c, a, wasm_v128_xor(a, b)); /* majority: where a, b differ, c decides */
      gg = wasm_v128_bitselect(f, g, e); /* (e & f) | (~e & g) */
    }
    v128_t tt1 = VADD(VADD(ff, d), VADD(ss2, wasm_v128_xor(w[j], w[j + 4])));
    v128_t tt2 = VADD(VADD(gg, h), VADD(ss1, w[j]));
    d = c; c = vrol(b, 9); b = a; a = tt1;
    h = g; g = vrol(f, 19); f = e; e = VP0(tt2);
  }
  v128_t n[8] = {a, b, c, d, e, f, g, h};
#pragma clang loop unroll(full)
  for (int i = 0; i < 8; i++) v[i] = wasm_v128_bitselect(wasm_v128_xor(v[i], n[i]), v[i], mask);
}

/*
 * Hashes `count` (<= MANY_MAX) messages laid out back to back in io (lengths in many_len, sum
 * <= IO_SIZE) and writes their digests to many_out. The caller wipes io afterwards (a fill from
 * the host is much faster than a volatile byte loop here); the padded tails are wiped below.
 */
EXPORT("sm3_many") void sm3_many(uint32_t count) {
  /* Per lane: the last one or two blocks, padded (§5.2); 16-byte aligned for v128 loads. */
  static uint8_t tails[4][128] __attribute__((aligned(16)));
  uint32_t off = 0;
  for (uint32_t base = 0; base < count; base += 4) {
    const uint8_t *data[4];
    uint32_t full[4], nb[4], maxnb = 0;
    for (int l = 0; l < 4; l++) {
      uint8_t *t = tails[l];
      if (base + l >= count) {
        /* No message for this lane: hash a zero block under a zero mask. */
        for (int i = 0; i < 128; i++) t[i] = 0;
        data[l] = t; full[l] = 0; nb[l] = 0;
        continue;
      }
      uint32_t len = many_len[base + l];
      data[l] = io + off;
      off += len;
      full[l] = len / 64;
      uint32_t rem = len % 64;
      const uint8_t *src = data[l] + 64 * full[l];
      for (uint32_t i = 0; i < rem; i++) t[i] = src[i];
      nb[l] = full[l] + sm3_pad_tail(t, rem, len) / 64;
      if (nb[l] > maxnb) maxnb = nb[l];
    }
    v128_t st[8];
    for (int i = 0; i < 8; i++) st[i] = wasm_i32x4_splat((int32_t)SM3_IV[i]);
    for (uint32_t blk = 0; blk < maxnb; blk++) {
      const uint8_t *p[4];
      for (int l = 0; l < 4; l++) {
        /* Lengths are public, so branching on them leaks nothing. */
        if (blk < full[l]) p[l] = data[l] + 64 * blk;
        else if (blk < nb[l]) p[l] = tails[l] + 64 * (blk - full[l]);
        else p[l] = tails[l];
      }
      v128_t mask = wasm_i32x4_make(blk < nb[0] ? -1 : 0, blk < nb[1] ? -1 : 0, blk < nb[2] ? -1 : 0, blk < nb[3] ? -1 : 0);
      compress4(st, p, mask);
    }
    uint32_t lanes[8][4] __attribute__((aligned(16)));
    for (int i = 0; i < 8; i++) wasm_v128_store(lanes[i], st[i]);
    for (uint32_t l = 0; l < 4 && base + l < count; l++)
      for (int i = 0; i < 8; i++) put_be32(many_out + 32 * (base + l) + 4 * i, lanes[i][l]);
  }
  for (int l = 0; l < 4; l++)
    for (int i = 0; i < 128; i++) ((volatile uint8_t *)tails[l])[i] = 0;
}
