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

/* io has 2 KiB of slack: a bitsliced batch may run over up to 127 blocks past the data. */
#define SLACK 2048
static uint8_t io[IO_SIZE + SLACK] __attribute__((aligned(16)));
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

/* Row h of the table looked up at x ^ (h << 4): lanes whose high nibble is not h read index >= 16 → 0. */
#define ROW(h) wasm_i8x16_swizzle(t[h], wasm_v128_xor(x, wasm_i8x16_const_splat((int8_t)((h) << 4))))
static inline __attribute__((always_inline)) v128_t sbox16(v128_t x) {
  const v128_t *t = (const v128_t *)SBOX;
  /* Written out (no loop, no array) so that every value stays in a register; XOR as a tree. */
  v128_t a0 = wasm_v128_xor(wasm_v128_xor(ROW(0), ROW(1)), wasm_v128_xor(ROW(2), ROW(3)));
  v128_t a1 = wasm_v128_xor(wasm_v128_xor(ROW(4), ROW(5)), wasm_v128_xor(ROW(6), ROW(7)));
  v128_t a2 = wasm_v128_xor(wasm_v128_xor(ROW(8), ROW(9)), wasm_v128_xor(ROW(10), ROW(11)));
  v128_t a3 = wasm_v128_xor(wasm_v128_xor(ROW(12), ROW(13)), wasm_v128_xor(ROW(14), ROW(15)));
  return wasm_v128_xor(wasm_v128_xor(a0, a1), wasm_v128_xor(a2, a3));
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

/* 4x4 transpose of 32-bit lanes: v[j] lane i <- v[i] lane j (words of four blocks <-> blocks). */
static inline __attribute__((always_inline)) void transpose4(v128_t *v) {
  v128_t t0 = wasm_i32x4_shuffle(v[0], v[1], 0, 4, 1, 5), t1 = wasm_i32x4_shuffle(v[0], v[1], 2, 6, 3, 7);
  v128_t t2 = wasm_i32x4_shuffle(v[2], v[3], 0, 4, 1, 5), t3 = wasm_i32x4_shuffle(v[2], v[3], 2, 6, 3, 7);
  v[0] = wasm_i64x2_shuffle(t0, t2, 0, 2);
  v[1] = wasm_i64x2_shuffle(t0, t2, 1, 3);
  v[2] = wasm_i64x2_shuffle(t1, t3, 0, 2);
  v[3] = wasm_i64x2_shuffle(t1, t3, 1, 3);
}

/*
 * Encrypts G groups of 4 blocks (G = 1 or 2) in place. Each group is transposed so that vector
 * x[g][j] holds word j of the four blocks; two groups interleave to fill the SIMD pipeline.
 */
static inline __attribute__((always_inline)) void encrypt_groups(uint8_t *p, int G) {
  v128_t x[2][4];
  for (int g = 0; g < G; g++) {
    for (int j = 0; j < 4; j++) x[g][j] = BSWAP32(wasm_v128_load(p + 64 * g + 16 * j));
    transpose4(x[g]);
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
    v128_t o[4] = {x[g][3], x[g][2], x[g][1], x[g][0]};
    transpose4(o);
    for (int j = 0; j < 4; j++) wasm_v128_store(p + 64 * g + 16 * j, BSWAP32(o[j]));
  }
}

/* Generated by crypto/wasm/sm4-sbox-circuit.py: 172 gates, checked on all 256 inputs. */
/* sbox_bs computes S(x ^ 0x75): XOR SBOX_IN_CONST into each input byte first. */
#define SBOX_IN_CONST 0x75u
static inline __attribute__((always_inline)) void sbox_bs(v128_t *b) {
  v128_t x0 = b[0];
  v128_t x1 = b[1];
  v128_t x2 = b[2];
  v128_t x3 = b[3];
  v128_t x4 = b[4];
  v128_t x5 = b[5];
  v128_t x6 = b[6];
  v128_t x7 = b[7];
  v128_t g0 = wasm_v128_xor(x1, x5);
  v128_t g1 = wasm_v128_xor(x6, g0);
  v128_t g2 = wasm_v128_xor(x0, x2);
  v128_t g3 = wasm_v128_xor(x1, x4);
  v128_t g4 = wasm_v128_xor(x6, x7);
  v128_t g5 = wasm_v128_xor(x2, g4);
  v128_t g6 = wasm_v128_xor(x3, x4);
  v128_t g7 = wasm_v128_xor(x4, x5);
  v128_t g8 = wasm_v128_xor(g1, g2);
  v128_t g9 = wasm_v128_xor(x0, g1);
  v128_t g10 = wasm_v128_xor(x4, g0);
  v128_t g11 = wasm_v128_xor(x0, x7);
  v128_t g12 = wasm_v128_xor(g11, g3);
  v128_t g13 = wasm_v128_xor(g6, g8);
  v128_t g14 = wasm_v128_xor(g4, g7);
  v128_t g15 = wasm_v128_xor(x4, g1);
  v128_t g16 = wasm_v128_xor(g3, g5);
  v128_t g17 = wasm_v128_xor(x7, g1);
  v128_t g18 = wasm_v128_xor(x3, x5);
  v128_t g19 = wasm_v128_xor(g18, g2);
  v128_t g20 = wasm_v128_xor(x3, g0);
  v128_t g21 = wasm_v128_and(g12, g9);
  v128_t g22 = wasm_v128_and(g12, g10);
  v128_t g23 = wasm_v128_and(g12, g3);
  v128_t g24 = wasm_v128_and(g12, g8);
  v128_t g25 = wasm_v128_and(x6, g9);
  v128_t g26 = wasm_v128_xor(g22, g25);
  v128_t g27 = wasm_v128_and(x6, g10);
  v128_t g28 = wasm_v128_xor(g23, g27);
  v128_t g29 = wasm_v128_and(x6, g3);
  v128_t g30 = wasm_v128_xor(g24, g29);
  v128_t g31 = wasm_v128_and(x6, g8);
  v128_t g32 = wasm_v128_and(g5, g9);
  v128_t g33 = wasm_v128_xor(g28, g32);
  v128_t g34 = wasm_v128_and(g5, g10);
  v128_t g35 = wasm_v128_xor(g30, g34);
  v128_t g36 = wasm_v128_and(g5, g3);
  v128_t g37 = wasm_v128_xor(g31, g36);
  v128_t g38 = wasm_v128_and(g5, g8);
  v128_t g39 = wasm_v128_and(g13, g9);
  v128_t g40 = wasm_v128_xor(g35, g39);
  v128_t g41 = wasm_v128_and(g13, g10);
  v128_t g42 = wasm_v128_xor(g37, g41);
  v128_t g43 = wasm_v128_and(g13, g3);
  v128_t g44 = wasm_v128_xor(g38, g43);
  v128_t g45 = wasm_v128_and(g13, g8);
  v128_t g46 = wasm_v128_xor(g21, g42);
  v128_t g47 = wasm_v128_xor(g26, g42);
  v128_t g48 = wasm_v128_xor(g47, g44);
  v128_t g49 = wasm_v128_xor(g33, g44);
  v128_t g50 = wasm_v128_xor(g49, g45);
  v128_t g51 = wasm_v128_xor(g40, g45);
  v128_t g52 = wasm_v128_xor(g17, g46);
  v128_t g53 = wasm_v128_xor(g19, g48);
  v128_t g54 = wasm_v128_xor(g20, g50);
  v128_t g55 = wasm_v128_xor(g7, g51);
  v128_t g56 = wasm_v128_and(g52, g54);
  v128_t g57 = wasm_v128_and(g53, g54);
  v128_t g58 = wasm_v128_and(g52, g53);
  v128_t g59 = wasm_v128_and(g58, g54);
  v128_t g60 = wasm_v128_and(g57, g55);
  v128_t g61 = wasm_v128_xor(g52, g53);
  v128_t g62 = wasm_v128_xor(g61, g54);
  v128_t g63 = wasm_v128_xor(g62, g56);
  v128_t g64 = wasm_v128_xor(g63, g57);
  v128_t g65 = wasm_v128_xor(g64, g59);
  v128_t g66 = wasm_v128_xor(g65, g55);
  v128_t g67 = wasm_v128_xor(g66, g60);
  v128_t g68 = wasm_v128_and(g53, g55);
  v128_t g69 = wasm_v128_and(g58, g55);
  v128_t g70 = wasm_v128_xor(g58, g56);
  v128_t g71 = wasm_v128_xor(g70, g57);
  v128_t g72 = wasm_v128_xor(g71, g55);
  v128_t g73 = wasm_v128_xor(g72, g68);
  v128_t g74 = wasm_v128_xor(g73, g69);
  v128_t g75 = wasm_v128_and(g52, g55);
  v128_t g76 = wasm_v128_and(g56, g55);
  v128_t g77 = wasm_v128_xor(g58, g54);
  v128_t g78 = wasm_v128_xor(g77, g56);
  v128_t g79 = wasm_v128_xor(g78, g55);
  v128_t g80 = wasm_v128_xor(g79, g75);
  v128_t g81 = wasm_v128_xor(g80, g76);
  v128_t g82 = wasm_v128_and(g54, g55);
  v128_t g83 = wasm_v128_xor(g53, g54);
  v128_t g84 = wasm_v128_xor(g83, g55);
  v128_t g85 = wasm_v128_xor(g84, g75);
  v128_t g86 = wasm_v128_xor(g85, g68);
  v128_t g87 = wasm_v128_xor(g86, g82);
  v128_t g88 = wasm_v128_xor(g87, g60);
  v128_t g89 = wasm_v128_and(g12, g67);
  v128_t g90 = wasm_v128_and(g12, g74);
  v128_t g91 = wasm_v128_and(g12, g81);
  v128_t g92 = wasm_v128_and(g12, g88);
  v128_t g93 = wasm_v128_and(x6, g67);
  v128_t g94 = wasm_v128_xor(g90, g93);
  v128_t g95 = wasm_v128_and(x6, g74);
  v128_t g96 = wasm_v128_xor(g91, g95);
  v128_t g97 = wasm_v128_and(x6, g81);
  v128_t g98 = wasm_v128_xor(g92, g97);
  v128_t g99 = wasm_v128_and(x6, g88);
  v128_t g100 = wasm_v128_and(g5, g67);
  v128_t g101 = wasm_v128_xor(g96, g100);
  v128_t g102 = wasm_v128_and(g5, g74);
  v128_t g103 = wasm_v128_xor(g98, g102);
  v128_t g104 = wasm_v128_and(g5, g81);
  v128_t g105 = wasm_v128_xor(g99, g104);
  v128_t g106 = wasm_v128_and(g5, g88);
  v128_t g107 = wasm_v128_and(g13, g67);
  v128_t g108 = wasm_v128_xor(g103, g107);
  v128_t g109 = wasm_v128_and(g13, g74);
  v128_t g110 = wasm_v128_xor(g105, g109);
  v128_t g111 = wasm_v128_and(g13, g81);
  v128_t g112 = wasm_v128_xor(g106, g111);
  v128_t g113 = wasm_v128_and(g13, g88);
  v128_t g114 = wasm_v128_xor(g89, g110);
  v128_t g115 = wasm_v128_xor(g94, g110);
  v128_t g116 = wasm_v128_xor(g115, g112);
  v128_t g117 = wasm_v128_xor(g101, g112);
  v128_t g118 = wasm_v128_xor(g117, g113);
  v128_t g119 = wasm_v128_xor(g108, g113);
  v128_t g120 = wasm_v128_and(g14, g67);
  v128_t g121 = wasm_v128_and(g14, g74);
  v128_t g122 = wasm_v128_and(g14, g81);
  v128_t g123 = wasm_v128_and(g14, g88);
  v128_t g124 = wasm_v128_and(g15, g67);
  v128_t g125 = wasm_v128_xor(g121, g124);
  v128_t g126 = wasm_v128_and(g15, g74);
  v128_t g127 = wasm_v128_xor(g122, g126);
  v128_t g128 = wasm_v128_and(g15, g81);
  v128_t g129 = wasm_v128_xor(g123, g128);
  v128_t g130 = wasm_v128_and(g15, g88);
  v128_t g131 = wasm_v128_and(g16, g67);
  v128_t g132 = wasm_v128_xor(g127, g131);
  v128_t g133 = wasm_v128_and(g16, g74);
  v128_t g134 = wasm_v128_xor(g129, g133);
  v128_t g135 = wasm_v128_and(g16, g81);
  v128_t g136 = wasm_v128_xor(g130, g135);
  v128_t g137 = wasm_v128_and(g16, g88);
  v128_t g138 = wasm_v128_and(g6, g67);
  v128_t g139 = wasm_v128_xor(g134, g138);
  v128_t g140 = wasm_v128_and(g6, g74);
  v128_t g141 = wasm_v128_xor(g136, g140);
  v128_t g142 = wasm_v128_and(g6, g81);
  v128_t g143 = wasm_v128_xor(g137, g142);
  v128_t g144 = wasm_v128_and(g6, g88);
  v128_t g145 = wasm_v128_xor(g120, g141);
  v128_t g146 = wasm_v128_xor(g125, g141);
  v128_t g147 = wasm_v128_xor(g146, g143);
  v128_t g148 = wasm_v128_xor(g132, g143);
  v128_t g149 = wasm_v128_xor(g148, g144);
  v128_t g150 = wasm_v128_xor(g139, g144);
  v128_t g151 = wasm_v128_xor(g145, g116);
  v128_t g152 = wasm_v128_xor(g149, g114);
  v128_t g153 = wasm_v128_xor(g147, g150);
  v128_t g154 = wasm_v128_xor(g118, g151);
  v128_t g155 = wasm_v128_xor(g145, g147);
  v128_t g156 = wasm_v128_not(g155);
  v128_t g157 = wasm_v128_xor(g151, g152);
  v128_t g158 = wasm_v128_not(g157);
  v128_t g159 = wasm_v128_xor(g118, g152);
  v128_t g160 = wasm_v128_xor(g149, g119);
  v128_t g161 = wasm_v128_xor(g160, g154);
  v128_t g162 = wasm_v128_xor(g116, g153);
  v128_t g163 = wasm_v128_not(g162);
  v128_t g164 = wasm_v128_xor(g119, g153);
  v128_t g165 = wasm_v128_xor(g147, g152);
  v128_t g166 = wasm_v128_xor(g165, g154);
  v128_t g167 = wasm_v128_not(g166);
  v128_t g168 = wasm_v128_xor(g150, g114);
  v128_t g169 = wasm_v128_xor(g168, g119);
  v128_t g170 = wasm_v128_xor(g169, g151);
  v128_t g171 = wasm_v128_not(g170);
  b[0] = g156;
  b[1] = g158;
  b[2] = g159;
  b[3] = g161;
  b[4] = g163;
  b[5] = g164;
  b[6] = g167;
  b[7] = g171;
}

/*
 * Bitsliced SM4 over a batch of 128 blocks: after a 128x128 bit transpose, plane p holds bit p
 * (p = 8·byte + bit) of every block, one block per bit lane. The S-box is the Boolean circuit
 * above, L is a fixed XOR of planes, and round-key bits become all-zero/all-one masks: no
 * secret-dependent index or branch anywhere, and 128 blocks share every instruction.
 */
static v128_t bs[128];
static v128_t bs_t[32];
/* Round-key bit masks: rkm[i][q] is all ones where bit q of rk_i ^ SBOX_IN_CONST·0x01010101 is 1. */
static v128_t rkm[32][32];
/* Set when the batch buffers hold data, so wipe() only pays for them after a bulk call. */
static int bs_dirty;

/* Zeroes n bytes (a multiple of 16) through volatile stores, which the compiler may not drop. */
static void zero16(void *p, uint32_t n) {
  volatile v128_t *v = (volatile v128_t *)p;
  for (uint32_t i = 0; i < n / 16; i++) v[i] = wasm_i64x2_splat(0);
}

static void wipe_bs(void) {
  if (!bs_dirty) return;
  bs_dirty = 0;
  zero16(bs, sizeof bs);
  zero16(bs_t, sizeof bs_t);
  zero16(rkm, sizeof rkm);
}

/* In-place transpose of a 128x128 bit matrix (rows r[i], bit p = bit p%8 of byte p/8): stage j
 * swaps bit log2(j) of the row index with that of the column index (SWAPMOVE). */
static inline void swapmove(v128_t *a, v128_t *b, int j, v128_t m) {
  v128_t t = wasm_v128_and(wasm_v128_xor(wasm_u64x2_shr(*a, j), *b), m);
  *b = wasm_v128_xor(*b, t);
  *a = wasm_v128_xor(*a, wasm_i64x2_shl(t, j));
}
static void transpose128(v128_t *r) {
  for (int i = 0; i < 64; i++) {
    v128_t a = r[i], b = r[i + 64];
    r[i] = wasm_i64x2_shuffle(a, b, 0, 2);
    r[i + 64] = wasm_i64x2_shuffle(a, b, 1, 3);
  }
  static const uint64_t masks[6] = {0x00000000ffffffffull, 0x0000ffff0000ffffull, 0x00ff00ff00ff00ffull,
                                    0x0f0f0f0f0f0f0f0full, 0x3333333333333333ull, 0x5555555555555555ull};
  for (int s = 0; s < 6; s++) {
    int j = 32 >> s;
    v128_t m = wasm_i64x2_splat((int64_t)masks[s]);
    for (int i = 0; i < 128; i++)
      if (!(i & j)) swapmove(&r[i], &r[i + j], j, m);
  }
}

/* Plane of bit q (0 = least significant) of big-endian word w: byte 4w + 3 - q/8, bit q%8. */
#define PL(w, q) bs[8 * (4 * (w) + 3 - ((q) >> 3)) + ((q) & 7)]

static void expand_masks(void) {
  for (int i = 0; i < 32; i++) {
    uint32_t k = rk[i] ^ (SBOX_IN_CONST * 0x01010101u);
    for (int q = 0; q < 32; q++) rkm[i][q] = wasm_i32x4_splat(-(int32_t)((k >> q) & 1));
  }
}

/* Needs expand_masks() for the current round keys. */
static void encrypt_bs(uint8_t *p) {
  for (int i = 0; i < 128; i++) bs[i] = wasm_v128_load(p + 16 * i);
  transpose128(bs);
  for (int i = 0; i < 32; i++) {
    const int d = i & 3, a = (i + 1) & 3, b = (i + 2) & 3, c = (i + 3) & 3;
    /* X_{i+4} = X_i ^ L(τ(X_{i+1} ^ X_{i+2} ^ X_{i+3} ^ rk_i)), §7.1, on planes. */
    for (int q = 0; q < 32; q++)
      bs_t[q] = wasm_v128_xor(wasm_v128_xor(PL(a, q), PL(b, q)), wasm_v128_xor(PL(c, q), rkm[i][q]));
    for (int m = 0; m < 4; m++) sbox_bs(&bs_t[8 * m]);
    /* L(B) = B ^ B<<<2 ^ B<<<10 ^ B<<<18 ^ B<<<24: bit q takes bits q, q-2, q-10, q-18, q-24. */
    for (int q = 0; q < 32; q++)
      PL(d, q) = wasm_v128_xor(PL(d, q), wasm_v128_xor(wasm_v128_xor(bs_t[q], bs_t[(q - 2) & 31]),
                 wasm_v128_xor(wasm_v128_xor(bs_t[(q - 10) & 31], bs_t[(q - 18) & 31]), bs_t[(q - 24) & 31])));
  }
  /* Reverse transform R (§7.1): output words (X35, X34, X33, X32) are slots 3, 2, 1, 0. */
  for (int q = 0; q < 32; q++) {
    v128_t t0 = PL(0, q); PL(0, q) = PL(3, q); PL(3, q) = t0;
    v128_t t1 = PL(1, q); PL(1, q) = PL(2, q); PL(2, q) = t1;
  }
  transpose128(bs);
  for (int i = 0; i < 128; i++) wasm_v128_store(p + 16 * i, bs[i]);
}

/* Below this many blocks the 4/8-block swizzle path is cheaper than a padded 128-block batch. */
#define BS_MIN 48

/* Encrypts n blocks at p in place; may also transform up to 127 blocks past n (buffers have slack). */
static void encrypt_many(uint8_t *p, uint32_t n) {
  if (n >= BS_MIN) {
    bs_dirty = 1;
    expand_masks();
  }
  while (n >= BS_MIN) {
    encrypt_bs(p);
    if (n <= 128) return;
    p += 2048;
    n -= 128;
  }
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

/* Keystream / saved-ciphertext scratch for one batch (2 KiB), wiped by wipe(). */
static uint8_t batch[2048] __attribute__((aligned(16)));
#define BATCH 128
/* Bytes of batch[] that may hold data (all of it once a bitsliced batch ran over it). */
static uint32_t batch_used;
static inline void use_batch(uint32_t m) { if (16 * m > batch_used) batch_used = 16 * m; }

/* CBC decryption with the decrypt schedule: up to 128 blocks per batch. */
EXPORT("sm4_cbc_decrypt") void sm4_cbc_decrypt(uint32_t n) {
  v128_t prev = ld(iv);
  for (uint32_t i = 0; i < n; i += BATCH) {
    uint8_t *b = io + 16 * i;
    uint32_t m = n - i < BATCH ? n - i : BATCH;
    use_batch(m);
    for (uint32_t j = 0; j < m; j++) st(batch + 16 * j, ld(b + 16 * j));
    encrypt_many(b, m);
    for (uint32_t j = 0; j < m; j++) {
      st(b + 16 * j, wasm_v128_xor(ld(b + 16 * j), prev));
      prev = ld(batch + 16 * j);
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
  uint64_t hi = bswap64(*(uint64_t *)iv), lo = bswap64(*(uint64_t *)(iv + 8));
  uint32_t nb = (len + 15) / 16;
  for (uint32_t i = 0; i < nb; i += BATCH) {
    uint32_t m = nb - i < BATCH ? nb - i : BATCH;
    use_batch(m >= BS_MIN ? BATCH : m);
    for (uint32_t j = 0; j < m; j++) {
      st(batch + 16 * j, wasm_i64x2_make((int64_t)bswap64(hi), (int64_t)bswap64(lo)));
      if (inc32) lo = (lo & 0xffffffff00000000ull) | (uint32_t)(lo + 1);
      else { lo++; hi += (lo == 0); }
    }
    encrypt_many(batch, m);
    uint8_t *b = io + 16 * i;
    for (uint32_t j = 0; j < m; j++) st(b + 16 * j, wasm_v128_xor(ld(b + 16 * j), ld(batch + 16 * j)));
  }
  *(uint64_t *)iv = bswap64(hi);
  *(uint64_t *)(iv + 8) = bswap64(lo);
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
  v128_t prev = ld(iv);
  uint32_t nb = (len + 15) / 16;
  for (uint32_t i = 0; i < nb; i += BATCH) {
    uint32_t m = nb - i < BATCH ? nb - i : BATCH;
    uint8_t *b = io + 16 * i;
    use_batch(m >= BS_MIN ? BATCH : m);
    st(batch, prev);
    for (uint32_t j = 1; j < m; j++) st(batch + 16 * j, ld(b + 16 * (j - 1)));
    prev = ld(b + 16 * (m - 1));
    encrypt_many(batch, m);
    for (uint32_t j = 0; j < m; j++) st(b + 16 * j, wasm_v128_xor(ld(b + 16 * j), ld(batch + 16 * j)));
  }
  st(iv, prev);
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
  zero16(io, ((len < IO_SIZE + SLACK ? len : IO_SIZE + SLACK) + 15) & ~15u);
  zero16(batch, batch_used);
  batch_used = 0;
  wipe_bs();
  for (int i = 0; i < 32; i++) ((volatile uint32_t *)rk)[i] = 0;
  for (int i = 0; i < 16; i++) { ((volatile uint8_t *)key)[i] = 0; ((volatile uint8_t *)iv)[i] = 0; ((volatile uint8_t *)hkey)[i] = 0; }
}
