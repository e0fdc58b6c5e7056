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

#include "sm3-core.h"

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
