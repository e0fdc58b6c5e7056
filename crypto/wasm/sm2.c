/*
 * SM2 field, group and scalar arithmetic on sm2p256v1 (GB/T 32918.5-2017) for WebAssembly.
 *
 * Representation: field elements are nine signed radix-2^29 limbs in Montgomery form with
 * R = 2^261 (see "field mod p"): wasm's widest multiply is i64, and 29-bit limbs let each
 * column of a product sum in one i64 with no carry handling; p = -1 (mod 2^64) makes the
 * Montgomery digit the low limb itself and m*p four shifted additions. Table entries are packed
 * as canonical 8 x 32-bit words. Scalars mod n use 8 x 32-bit limbs and generic Montgomery
 * multiplication (CIOS).
 *
 * Points use Jacobian coordinates (GB/T 32918.1 Annex A.1.2.3.2) with a = -3 formulas
 * (the SM2 a is p - 3). Secret-scalar paths (fixed-base comb, variable-base fixed window,
 * inversions) are constant-time: no branch or memory index depends on a secret; table
 * entries are chosen by scanning every entry under a mask; field inversion is safegcd.
 * Verification (public data) uses variable-time w-NAF and the comb without masking.
 *
 * ABI (crypto/wasm/README.md): every call reads its inputs from io[] (256 bytes) and writes
 * its result there; scalars and coordinates are 32-byte big-endian, points x || y. Exports:
 *   sm2_init()            build the comb table for G (once, before anything else)
 *   sm2_valid_point()     io[0..64) P                      -> 1 if a valid public point
 *   sm2_decompress(odd)   io[0..32) x                      -> io[0..64) x || y, 1 if on the curve
 *   sm2_mul_g()           io[0..32) k                      -> io[0..64) [k]G          (constant-time)
 *   sm2_mul()             io[0..32) k, io[32..96) P        -> io[0..64) [k]P          (constant-time)
 *   sm2_mul_add()         u1, P, u2 at 96, Q at 128        -> io[0..64) [u1]P + [u2]Q (public data)
 *   sm2_sign_prep()       io[0..32) d                      -> io[0..32) (1 + d)^-1 mod n
 *   sm2_sign()            dInv, k at 32, e at 64           -> io[0..64) r || s, 0 = retry with new k
 *   sm2_sign_setup()      io[0..32) d                      -> io[0..96) signing state (dInv, HMAC pads)
 *   sm2_sign_hedged(hash, len, rnd_off, der)                -> a whole hedged signature (see there)
 *   sm2_verify(slot)      P, e at 64, r at 96, s at 128    -> 1 if valid (slot: per-key table or >= 4)
 *   sm2_precompute(slot)  io[0..64) P                      -> builds that slot's comb table
 *   sm2_mul_slot(slot)    io[0..32) k                      -> io[0..64) [k]P_slot     (constant-time)
 *   sm2_muladd_n()        a, b at 32, c at 64              -> io[0..32) (a + b c) mod n (constant-time)
 *   sm2_wipe()            zero io[]
 * The TypeScript wrapper is crypto/src/sm2/wasm.ts; it wipes io[] after every secret call.
 */
#include <stdint.h>
#include <wasm_simd128.h>

typedef uint32_t u32;
typedef uint64_t u64;
typedef int64_t i64;

#define EXPORT(name) __attribute__((export_name(name)))

/* ---------------------------------------------------------------- constants */

static const u32 P[8] = {0xffffffff, 0xffffffff, 0x00000000, 0xffffffff,
                         0xffffffff, 0xffffffff, 0xffffffff, 0xfffffffe};
static const u32 N[8] = {0x39d54123, 0x53bbf409, 0x21c6052b, 0x7203df6b,
                         0xffffffff, 0xffffffff, 0xffffffff, 0xfffffffe};
static const u32 B_STD[8] = {0x4d940e93, 0xddbcbd41, 0x15ab8f92, 0xf39789f5,
                             0xcf6509a7, 0x4d5a9e4b, 0x9d9f5e34, 0x28e9fa9e};
static const u32 GX_STD[8] = {0x334c74c7, 0x715a4589, 0xf2660be1, 0x8fe30bbf,
                              0x6a39c994, 0x5f990446, 0x1f198119, 0x32c4ae2c};
static const u32 GY_STD[8] = {0x2139f0a0, 0x02df32e5, 0xc62a4740, 0xd0a9877c,
                              0x6b692153, 0x59bdcee3, 0xf4f6779c, 0xbc3736a2};

/* Montgomery constants of the field (R = 2^261, see "field mod p"): R, R^2 and R^3 mod p. */
static const u32 R1_STD[8] = {0x20, 0x0, 0xffffffe0, 0x1f, 0x0, 0x0, 0x0, 0x20};
static const u32 R2_STD[8] = {0xc00, 0x800, 0xfffffc00, 0xbff, 0x400, 0x400, 0x800, 0x1000};
static const u32 R3_STD[8] = {0xb0000, 0x90000, 0xfffc0000, 0x77fff, 0x60000, 0x50000, 0x48000, 0xd8000};

/* Filled by init(): R^2 mod n (R = 2^256 there), -n^-1 mod 2^32, the square-root exponent. */
static u32 RR_N[8], EXP_P_SQRT[8];
static u32 N0INV;

/* ---------------------------------------------------------------- memory regions */

#define IO_SIZE 256
static unsigned char io[IO_SIZE] __attribute__((aligned(16)));

EXPORT("io_ptr") u32 io_ptr(void) { return (u32)(uintptr_t)io; }
EXPORT("io_size") u32 io_size(void) { return IO_SIZE; }

/* Field element: nine signed radix-2^29 limbs in Montgomery form (see "field mod p"); three
 * padding words make it 48 bytes, three v128s, for the masked selects. */
typedef int32_t fe[12];
/* Affine point in Montgomery form. */
typedef struct { fe x, y; } aff;
/* Jacobian point (X/Z^2, Y/Z^3) in Montgomery form; Z = 0 is the point at infinity. */
typedef struct { fe x, y, z; } jac;
/* Table entry: an affine point packed as two canonical 256-bit Montgomery values (64 bytes). */
typedef struct { u32 x[8], y[8]; } affp;

/* Fixed-base comb for G: 37 windows of 7 bits with odd signed digits (comb_digit), entries
 * (2j+1)*2^(7i)*G for j = 0..63: 37 * 64 * 64 bytes = 148 KiB, built by init(). A sign is 36
 * mixed additions and no doubling. */
#define COMB_W 7
#define COMB_WINDOWS 37
#define COMB_ENTRIES 64
/* A comb table: the rows, and [d 2^253]B for d = 9, 11, 13, 15, which are the results for the
 * few scalars whose top window meets the doubling case (comb_top_fix). */
#define COMB_TOP2 4
typedef struct { affp row[COMB_WINDOWS][COMB_ENTRIES]; affp top2[COMB_TOP2]; } comb_table;
static comb_table comb_g;

/* Per-key comb tables for repeated verification with the same public key (same layout);
 * 4 slots = 592 KiB, so all tables together stay under 1 MiB. */
#define KEY_SLOTS 4
static comb_table comb_key[KEY_SLOTS];

/* Scratch for the batch inversion of one window while building a table. */
static fe batch_prod[COMB_ENTRIES];
static jac batch_jac[COMB_ENTRIES];

/* ---------------------------------------------------------------- helpers */

static void secure_zero(void *p, u32 len) {
  /* 32-bit volatile stores between byte-wise edges: the edges depend only on the (public)
   * address and length, and a signature zeroes ~1 KiB in pieces, a quarter of the stores. */
  volatile unsigned char *b = (volatile unsigned char *)p;
  while (len && ((uintptr_t)b & 3)) {
    *b++ = 0;
    len--;
  }
  volatile u32 *w = (volatile u32 *)(uintptr_t)b;
  for (; len >= 4; len -= 4) *w++ = 0;
  b = (volatile unsigned char *)w;
  while (len--) *b++ = 0;
}

/* Zero the stack region below the caller's frame that deeper calls used for secret
 * temporaries (field elements of k*G, inversion tables). Called at the end of every
 * export that handled a secret; 8 KiB covers the deepest call chain here. */
static void __attribute__((noinline)) burn_stack(void) {
  volatile v128_t buf[512];
  for (int i = 0; i < 512; i++) buf[i] = wasm_i64x2_splat(0);
}

static void cpy(u32 r[8], const u32 a[8]) {
  _Pragma("clang loop unroll(full)") for (int i = 0; i < 8; i++) r[i] = a[i];
}

static void from_be(u32 r[8], const unsigned char *b) {
  _Pragma("clang loop unroll(full)") for (int i = 0; i < 8; i++) {
    const unsigned char *q = b + 28 - 4 * i;
    r[i] = ((u32)q[0] << 24) | ((u32)q[1] << 16) | ((u32)q[2] << 8) | (u32)q[3];
  }
}

static void to_be(unsigned char *b, const u32 a[8]) {
  _Pragma("clang loop unroll(full)") for (int i = 0; i < 8; i++) {
    unsigned char *q = b + 28 - 4 * i;
    q[0] = (unsigned char)(a[i] >> 24);
    q[1] = (unsigned char)(a[i] >> 16);
    q[2] = (unsigned char)(a[i] >> 8);
    q[3] = (unsigned char)a[i];
  }
}

/* All-ones mask when a == 0, else 0; constant-time. */
static u32 is_zero_mask(const u32 a[8]) {
  u32 acc = 0;
  _Pragma("clang loop unroll(full)") for (int i = 0; i < 8; i++) acc |= a[i];
  return (u32)(((u64)acc - 1) >> 32);
}

/* r = mask ? a : r, constant-time; `words` is a multiple of 4 (one v128.bitselect per 4). */
static inline __attribute__((always_inline)) void cmov(u32 *r, const u32 *a, u32 words, u32 mask) {
  v128_t m = wasm_i32x4_splat((int32_t)mask);
  for (u32 i = 0; i < words; i += 4) {
    v128_t x = wasm_v128_load(r + i), y = wasm_v128_load(a + i);
    wasm_v128_store(r + i, wasm_v128_bitselect(y, x, m));
  }
}

/* a < m as integers (variable time; public values only). */
static int lt_vartime(const u32 a[8], const u32 m[8]) {
  for (int i = 7; i >= 0; i--) {
    if (a[i] != m[i]) return a[i] < m[i];
  }
  return 0;
}

/* r = a - m if a (with carry word hi) >= m, else a; constant-time. */
static void csub(u32 r[8], const u32 a[8], u32 hi, const u32 m[8]) {
  u32 d[8];
  i64 br = 0;
  for (int i = 0; i < 8; i++) {
    br += (i64)a[i] - m[i];
    d[i] = (u32)br;
    br >>= 32;
  }
  br += hi;
  /* br is 0 when a + hi*2^256 >= m, -1 otherwise. */
  u32 keep = (u32)br;
  for (int i = 0; i < 8; i++) r[i] = (a[i] & keep) | (d[i] & ~keep);
}

static void mod_add(u32 r[8], const u32 a[8], const u32 b[8], const u32 m[8]) {
  u32 s[8];
  u64 c = 0;
  for (int i = 0; i < 8; i++) {
    c += (u64)a[i] + b[i];
    s[i] = (u32)c;
    c >>= 32;
  }
  csub(r, s, (u32)c, m);
}

static void mod_sub(u32 r[8], const u32 a[8], const u32 b[8], const u32 m[8]) {
  i64 br = 0;
  u32 d[8];
  for (int i = 0; i < 8; i++) {
    br += (i64)a[i] - b[i];
    d[i] = (u32)br;
    br >>= 32;
  }
  u32 mask = (u32)br; /* all ones on borrow: add m back */
  u64 c = 0;
  for (int i = 0; i < 8; i++) {
    c += (u64)d[i] + (m[i] & mask);
    r[i] = (u32)c;
    c >>= 32;
  }
}

/* ---------------------------------------------------------------- field mod p */

/*
 * Radix 2^29: a field element is nine signed limbs l_i, value sum l_i 2^(29 i), in Montgomery
 * form x R with R = 2^261. wasm's widest multiply is i64 = i32 x i32; with 29-bit limbs a
 * column of the 9 x 9 schoolbook product (at most 9 terms below 2^59.2 each, see "loose")
 * still sums in one i64 without carry handling, and a multiplication is 81 products where
 * ten 26-bit limbs took 100. V8 turns a product into an imul, whose throughput (one a cycle)
 * bounds the multiplication, so fewer products is what makes it faster.
 *
 * Every fe here is "loose": value in [0, 2^257), limbs 0..7 in (-2^29, 1.25 * 2^29) (a fold
 * leaves them in (-2^13, 2^29 + 2^15) except limb 7, which takes h << 21; a negated table entry has
 * them in (-2^29, 2^29)) and |l_8| < 2^25 (bits 232..256). It is congruent to the intended
 * value mod p but not necessarily below p; fe_canon gives [0, p). A product of two loose
 * limbs is below 1.57 * 2^58, a column of nine below 2^61.9, and the reduction adds less than
 * 2^56: an i64 holds it. A sum of loose values is not loose (its limbs reach 2^30.3 and nine
 * such products overflow), so every addition folds (the 26-bit limbs had room for unfolded
 * sums as multiplication inputs; the doubling now pays two folds for them).
 */
#define FE_N 9
#define FE_RB 29
#define FE_MASK ((1LL << FE_RB) - 1)
/* Limb index and shift of bit b: 2^b = 2^FE_SH(b) at limb FE_AT(b). */
#define FE_AT(b) ((b) / FE_RB)
#define FE_SH(b) ((b) % FE_RB)

/* P as limbs times 4 (value 4p), the offset that keeps a - b positive in fp_sub. */
static fe P4;
static fe ONE_M, RR_M, R3_M, B_M, ZERO_FE;

/* Carry-propagate t (limbs of any sign, value in [0, 2^262)) to limbs 0..7 in [0, 2^29) and
 * fold the bits at 2^256 and above (h < 2^6) back with 2^256 = 2^224 + 2^96 - 2^64 + 1
 * (mod p): limb 7 += h << 21, limb 3 += h << 9, limb 2 -= h << 6, limb 0 += h. The result is
 * loose. */
static inline __attribute__((always_inline)) void fe_fold(fe r, i64 t[FE_N]) {
  _Pragma("clang loop unroll(full)") for (int i = 0; i < FE_N - 1; i++) {
    t[i + 1] += t[i] >> FE_RB;
    t[i] &= FE_MASK;
  }
  i64 h = t[FE_N - 1] >> FE_SH(256);
  t[FE_N - 1] &= (1LL << FE_SH(256)) - 1;
  t[0] += h;
  t[FE_AT(64)] -= h << FE_SH(64);
  t[FE_AT(96)] += h << FE_SH(96);
  t[FE_AT(224)] += h << FE_SH(224);
  _Pragma("clang loop unroll(full)") for (int i = 0; i < FE_N; i++) r[i] = (int32_t)t[i];
  _Pragma("clang loop unroll(full)") for (int i = FE_N; i < 12; i++) r[i] = 0;
}

/* Montgomery reduction of the 18 column sums t of a product (value < 2^514): nine steps each
 * add m p 2^(29 i) with m = t_i mod 2^29 (-p^-1 = 1 mod 2^29 as p = -1 mod 2^64), which clears
 * limb i. p + 1 = 2^256 - 2^224 - 2^96 + 2^64, so m p is -m at limb i (the carry of t_i
 * itself), +m << 6 at i+2, -m << 9 at i+3, -m << 21 at i+7 and +m << 24 at i+8. The result
 * (t + M p) / 2^261 < a b / 2^261 + p is below 2^257 for loose inputs. */
static inline __attribute__((always_inline)) void fe_redc(fe r, i64 t[2 * FE_N]) {
  _Pragma("clang loop unroll(full)") for (int i = 0; i < FE_N; i++) {
    i64 m = t[i] & FE_MASK;
    t[i + 1] += t[i] >> FE_RB;
    t[i + FE_AT(64)] += m << FE_SH(64);
    t[i + FE_AT(96)] -= m << FE_SH(96);
    t[i + FE_AT(224)] -= m << FE_SH(224);
    t[i + FE_AT(256)] += m << FE_SH(256);
  }
  _Pragma("clang loop unroll(full)") for (int j = FE_N; j < 2 * FE_N - 1; j++) {
    r[j - FE_N] = (int32_t)(t[j] & FE_MASK);
    t[j + 1] += t[j] >> FE_RB;
  }
  r[FE_N - 1] = (int32_t)t[2 * FE_N - 1];
  _Pragma("clang loop unroll(full)") for (int i = FE_N; i < 12; i++) r[i] = 0;
}

/* Products two at a time with i64x2.extmul (V8: two unpacks and one pmuldq): adds a b to (or,
 * with sub, subtracts it from) the column sums e[m] = (column 2m, column 2m + 1). Row i
 * multiplies a_i by the pairs (b_0, b_1), (b_2, b_3), ..., whose columns i + 2q, i + 2q + 1
 * start at an even column for even i; odd rows use b shifted by one limb, (0, b_0), (b_1, b_2),
 * ..., so every pair lands in one accumulator. The empty asm statement hides the splat of a_i
 * from clang, which would otherwise rewrite each extmul as an i64x2.mul of sign-extended lanes
 * (three pmuludq and shifts in V8, twice as slow). Measured ~10 % faster than 81 scalar
 * products in V8; the squaring stays scalar (45 products; a SIMD version with doubled row
 * vectors measured slower). */
static inline __attribute__((always_inline)) void fe_mul_cols(v128_t e[FE_N], const fe a, const fe b, int sub) {
  const v128_t zero = wasm_i64x2_splat(0);
  v128_t b0 = wasm_v128_load(b), b1 = wasm_v128_load(b + 4), b2 = wasm_v128_load32_zero(b + 8);
  v128_t s0 = wasm_i32x4_shuffle(zero, b0, 0, 4, 5, 6);
  v128_t s1 = wasm_i32x4_shuffle(b0, b1, 3, 4, 5, 6);
  v128_t s2 = wasm_i32x4_shuffle(b1, b2, 3, 4, 5, 6);
  _Pragma("clang loop unroll(full)") for (int i = 0; i < FE_N; i++) {
    v128_t x = wasm_i32x4_splat(sub ? -a[i] : a[i]);
    __asm__("" : "+r"(x));
    int m = i / 2;
    v128_t p0 = i & 1 ? s0 : b0, p1 = i & 1 ? s1 : b1, p2 = i & 1 ? s2 : b2;
    e[m] = wasm_i64x2_add(e[m], wasm_i64x2_extmul_low_i32x4(x, p0));
    e[m + 1] = wasm_i64x2_add(e[m + 1], wasm_i64x2_extmul_high_i32x4(x, p0));
    e[m + 2] = wasm_i64x2_add(e[m + 2], wasm_i64x2_extmul_low_i32x4(x, p1));
    e[m + 3] = wasm_i64x2_add(e[m + 3], wasm_i64x2_extmul_high_i32x4(x, p1));
    e[m + 4] = wasm_i64x2_add(e[m + 4], wasm_i64x2_extmul_low_i32x4(x, p2));
  }
}

/* Reduce the column sums e; with c (not null), first add (4p - c) R: c R is c's limbs at
 * columns 9..17 as R = 2^261 = 2^(29 * 9), so the result is e / R + 4p - c (mod p). */
static inline __attribute__((always_inline)) void fe_redc_cols(fe r, const v128_t e[FE_N], const int32_t *c) {
  i64 t[2 * FE_N];
  _Pragma("clang loop unroll(full)") for (int m = 0; m < FE_N; m++) {
    t[2 * m] = wasm_i64x2_extract_lane(e[m], 0);
    t[2 * m + 1] = wasm_i64x2_extract_lane(e[m], 1);
  }
  if (c) _Pragma("clang loop unroll(full)") for (int i = 0; i < FE_N; i++) t[FE_N + i] += (i64)P4[i] - c[i];
  fe_redc(r, t);
}

static void fp_mul(fe r, const fe a, const fe b) {
  v128_t e[FE_N];
  _Pragma("clang loop unroll(full)") for (int m = 0; m < FE_N; m++) e[m] = wasm_i64x2_splat(0);
  fe_mul_cols(e, a, b, 0);
  fe_redc_cols(r, e, 0);
}

/* a b - c + 4p with one reduction and no fold (the mixed addition's H and R): the result
 * a b / R + 4p - c + M p / R is in (0, 2^253 + 5p), limbs 0..7 in [0, 2^29) and limb 8 below
 * 2^27. Not loose (it may reach 2^258.4), but a valid factor for fp_mul, fp_sqr and fp_mul_sub:
 * its columns stay far below 2^63, and its product with a loose factor, below 2^515.4, still
 * reduces to a loose value. */
static void fp_mul_subv(fe r, const fe a, const fe b, const fe c) {
  v128_t e[FE_N];
  _Pragma("clang loop unroll(full)") for (int m = 0; m < FE_N; m++) e[m] = wasm_i64x2_splat(0);
  fe_mul_cols(e, a, b, 0);
  fe_redc_cols(r, e, c);
}

/* p 2^259 as column sums (limbs of p 2^27 at columns 8..17), filled by init(). */
static i64 KP_COLS[2 * FE_N];

/* a b - c d with one reduction (the mixed addition's Y3): the columns of c d are subtracted
 * from those of a b and p 2^259 (> 2^514 > c d) added, so (a b - c d + p 2^259 + M p) / 2^261
 * is in [0, 2^254.4 + 2^254 + p), loose, for a b < 2^515.4. A column is below
 * 2^61.3 + 2^61.1 + 2^56 < 2^63 in absolute value (at most 8.5 products of two limbs of
 * 1.25 * 2^29 and 2^29 in a column). */
static void fp_mul_sub(fe r, const fe a, const fe b, const fe c, const fe d) {
  v128_t e[FE_N];
  _Pragma("clang loop unroll(full)") for (int m = 0; m < FE_N; m++) e[m] = wasm_v128_load(KP_COLS + 2 * m);
  fe_mul_cols(e, a, b, 0);
  fe_mul_cols(e, c, d, 1);
  fe_redc_cols(r, e, 0);
}

/* Squaring: 45 products instead of 81 (off-diagonal terms once, their column sums doubled, then
 * the squares added: no doubled copy of a to keep in registers, ~1 ns faster than doubling a). */
static void fp_sqr(fe r, const fe a) {
  i64 t[2 * FE_N];
  _Pragma("clang loop unroll(full)") for (int k = 0; k < 2 * FE_N; k++) t[k] = 0;
  _Pragma("clang loop unroll(full)") for (int i = 0; i < FE_N; i++)
    _Pragma("clang loop unroll(full)") for (int j = i + 1; j < FE_N; j++) t[i + j] += (i64)a[i] * (i64)a[j];
  _Pragma("clang loop unroll(full)") for (int k = 0; k < 2 * FE_N; k++) t[k] *= 2;
  _Pragma("clang loop unroll(full)") for (int i = 0; i < FE_N; i++) t[2 * i] += (i64)a[i] * (i64)a[i];
  fe_redc(r, t);
}

/* a + b: value below 2^258 before the fold. */
static void fp_add(fe r, const fe a, const fe b) {
  i64 t[FE_N];
  _Pragma("clang loop unroll(full)") for (int i = 0; i < FE_N; i++) t[i] = (i64)a[i] + b[i];
  fe_fold(r, t);
}

/* a - b + 4p: value in (4p - 2^257, 2^257 + 4p), positive as 4p > 2^257, below 2^259. */
static void fp_sub(fe r, const fe a, const fe b) {
  i64 t[FE_N];
  _Pragma("clang loop unroll(full)") for (int i = 0; i < FE_N; i++) t[i] = (i64)a[i] - b[i] + P4[i];
  fe_fold(r, t);
}

static void fp_neg(fe r, const fe a) { fp_sub(r, ZERO_FE, a); }

/* Combinations with a single fold (each fold is a carry chain, the costly part of an addition).
 * The values stay below 2^262, within what fe_fold takes (h = bits 256.. below 64). */

/* a - k b + k 4p for 1 <= k <= 8: positive as b < 2^257 < 4p. */
static void fp_sub_k(fe r, const fe a, const fe b, int k) {
  i64 t[FE_N];
  _Pragma("clang loop unroll(full)") for (int i = 0; i < FE_N; i++) t[i] = (i64)a[i] + (i64)k * ((i64)P4[i] - b[i]);
  fe_fold(r, t);
}

/* a - b - c + 8p (= a - b - c + 2 * 4p). */
static void fp_sub2(fe r, const fe a, const fe b, const fe c) {
  i64 t[FE_N];
  _Pragma("clang loop unroll(full)") for (int i = 0; i < FE_N; i++) t[i] = (i64)a[i] - b[i] - c[i] + 2 * (i64)P4[i];
  fe_fold(r, t);
}

/* a - b - 2c + 12p. */
static void fp_sub_b2c(fe r, const fe a, const fe b, const fe c) {
  i64 t[FE_N];
  _Pragma("clang loop unroll(full)") for (int i = 0; i < FE_N; i++) t[i] = (i64)a[i] - b[i] - 2 * (i64)c[i] + 3 * (i64)P4[i];
  fe_fold(r, t);
}

/* k a for 1 <= k <= 8. */
static void fp_scale(fe r, const fe a, int k) {
  i64 t[FE_N];
  _Pragma("clang loop unroll(full)") for (int i = 0; i < FE_N; i++) t[i] = (i64)k * a[i];
  fe_fold(r, t);
}

static void fe_copy(fe r, const fe a) {
  _Pragma("clang loop unroll(full)") for (int i = 0; i < 12; i++) r[i] = a[i];
}

/* 256-bit little-endian words to limbs (no reduction). */
static void fe_from_words(fe r, const u32 a[8]) {
  _Pragma("clang loop unroll(full)") for (int i = 0; i < FE_N; i++) {
    int o = FE_RB * i, w = o >> 5, s = o & 31;
    u64 two = (u64)a[w];
    if (w + 1 < 8) two |= (u64)a[w + 1] << 32;
    r[i] = (int32_t)((two >> s) & FE_MASK);
  }
  _Pragma("clang loop unroll(full)") for (int i = FE_N; i < 12; i++) r[i] = 0;
}

/* The canonical value in [0, p) as 8 little-endian words, constant-time: fold twice (the
 * first fold leaves a value below 2^256 + 2^230 < 2p), then subtract p when that does not
 * borrow. */
static void fe_canon(u32 out[8], const fe a) {
  i64 t[FE_N], s[FE_N];
  fe f;
  _Pragma("clang loop unroll(full)") for (int i = 0; i < FE_N; i++) t[i] = a[i];
  fe_fold(f, t);
  _Pragma("clang loop unroll(full)") for (int i = 0; i < FE_N; i++) t[i] = f[i];
  _Pragma("clang loop unroll(full)") for (int i = 0; i < FE_N - 1; i++) {
    t[i + 1] += t[i] >> FE_RB;
    t[i] &= FE_MASK;
  }
  /* s = t - p; its sign after carrying says whether t >= p. */
  _Pragma("clang loop unroll(full)") for (int i = 0; i < FE_N; i++) s[i] = t[i] - (P4[i] >> 2);
  _Pragma("clang loop unroll(full)") for (int i = 0; i < FE_N - 1; i++) {
    s[i + 1] += s[i] >> FE_RB;
    s[i] &= FE_MASK;
  }
  i64 keep = s[FE_N - 1] >> 63; /* all ones: t < p, keep t */
  _Pragma("clang loop unroll(full)") for (int i = 0; i < FE_N; i++) t[i] = (t[i] & keep) | (s[i] & ~keep);
  _Pragma("clang loop unroll(full)") for (int i = 0; i < 8; i++) out[i] = 0;
  _Pragma("clang loop unroll(full)") for (int i = 0; i < FE_N; i++) {
    int o = FE_RB * i, w = o >> 5, sh = o & 31;
    u64 v = (u64)t[i] << sh;
    out[w] |= (u32)v;
    if (w + 1 < 8) out[w + 1] |= (u32)(v >> 32);
  }
}

/* All-ones mask when a = 0 (mod p), else 0; constant-time. */
static u32 fe_is_zero(const fe a) {
  u32 c[8];
  fe_canon(c, a);
  return is_zero_mask(c);
}

static u32 fe_eq(const fe a, const fe b) {
  fe d;
  fp_sub(d, a, b);
  return fe_is_zero(d);
}

/* Plain value below 2^256 (8 words) to Montgomery form. */
static void fp_to_mont(fe r, const u32 a[8]) {
  fe x;
  fe_from_words(x, a);
  fp_mul(r, x, RR_M);
}

/* Montgomery form to the canonical plain value (8 words). */
static void fp_from_mont(u32 r[8], const fe a) {
  fe one, t;
  for (int i = 0; i < 12; i++) one[i] = 0;
  one[0] = 1;
  fp_mul(t, a, one);
  fe_canon(r, t);
}

/* ---------------------------------------------------------------- scalars mod n */

/* Montgomery multiplication mod n (CIOS), result in [0, n). */
static void fn_mul(u32 r[8], const u32 a[8], const u32 b[8]) {
  u32 t[10];
  _Pragma("clang loop unroll(full)") for (int i = 0; i < 10; i++) t[i] = 0;
  _Pragma("clang loop unroll(full)") for (int i = 0; i < 8; i++) {
    u64 c = 0;
    u64 ai = a[i];
    _Pragma("clang loop unroll(full)") for (int j = 0; j < 8; j++) {
      u64 x = ai * b[j] + t[j] + c;
      t[j] = (u32)x;
      c = x >> 32;
    }
    u64 x = (u64)t[8] + c;
    t[8] = (u32)x;
    t[9] = (u32)(x >> 32);
    u32 m = t[0] * N0INV;
    x = (u64)m * N[0] + t[0];
    c = x >> 32;
    _Pragma("clang loop unroll(full)") for (int j = 1; j < 8; j++) {
      x = (u64)m * N[j] + t[j] + c;
      t[j - 1] = (u32)x;
      c = x >> 32;
    }
    x = (u64)t[8] + c;
    t[7] = (u32)x;
    t[8] = t[9] + (u32)(x >> 32);
  }
  csub(r, t, t[8], N);
}

/* a*b mod n for plain (non-Montgomery) a, b. */
static void fn_mulmod(u32 r[8], const u32 a[8], const u32 b[8]) {
  u32 t[8];
  fn_mul(t, a, b);
  fn_mul(r, t, RR_N);
}

/* ---------------------------------------------------------------- exponentiation */

/* r = a^e mod p in the Montgomery domain, 4-bit fixed window. The exponent is public
 * ((p+1)/4), so the sequence of operations and table indices do not depend on a. */
static void fp_pow(fe r, const fe a, const u32 e[8]) {
  fe tab[16], acc;
  fe_copy(tab[0], ONE_M);
  fe_copy(tab[1], a);
  for (int i = 2; i < 16; i++) fp_mul(tab[i], tab[i - 1], a);
  fe_copy(acc, ONE_M);
  for (int i = 63; i >= 0; i--) {
    for (int s = 0; s < 4; s++) fp_sqr(acc, acc);
    u32 nib = (e[i >> 3] >> ((i & 7) * 4)) & 15;
    fp_mul(acc, acc, tab[nib]);
  }
  fe_copy(r, acc);
}

/* ---------------------------------------------------------------- inversion (safegcd) */

/* Constant-time inversion by Bernstein-Yang "safegcd" divsteps (the half-delta variant,
 * "Fast constant-time gcd computation and modular inversion", 2019, §11; layout as in
 * libsecp256k1's modinv32): signed 30-bit limbs, 20 rounds of 30 branch-free divsteps
 * (600 >= 590, the bound for 256-bit inputs), each round applying its 2x2 transition
 * matrix to (f, g) and, modulo the modulus, to (d, e). The number of steps is fixed and
 * every choice is a mask, so timing does not depend on the input. Used mod p (field
 * inversion) and mod n ((1 + d)^-1 for signing). */
#define M30 0x3fffffffu
typedef struct { int32_t v[9]; } s30;
typedef struct { int32_t u, v, q, r; } trans30;
/* A modulus in signed 30-bit limbs with its inverse mod 2^30. */
typedef struct { s30 m; u32 inv30; } mod30;
static mod30 MOD_P, MOD_N;

static void to_s30(s30 *r, const u32 a[8]) {
  for (int i = 0; i < 9; i++) {
    int o = 30 * i, w = o >> 5, sh = o & 31;
    u64 two = (u64)a[w];
    if (w + 1 < 8) two |= (u64)a[w + 1] << 32;
    r->v[i] = (int32_t)((u32)(two >> sh) & M30);
  }
}

/* a in [0, 2^256) with limbs 0..7 in [0, 2^30) back to 8 x 32 bits. */
static void from_s30(u32 r[8], const s30 *a) {
  u64 acc = 0;
  int bits = 0, j = 0;
  for (int i = 0; i < 9; i++) {
    acc |= (u64)(u32)a->v[i] << bits;
    bits += 30;
    while (bits >= 32 && j < 8) {
      r[j++] = (u32)acc;
      acc >>= 32;
      bits -= 32;
    }
  }
}

/* 30 divsteps on the low bits of f and g; returns the new zeta = -(delta + 1/2). The
 * matrix t satisfies 2^30 (f', g') = (u f + v g, q f + r g). The pairs (u, v) and (q, r) are
 * kept packed as uv = u + v 2^32 and qr = q + r 2^32 in one i64 each: every update of a pair
 * is linear (add, negate under a mask, double), so one 64-bit operation updates both halves,
 * and |u|, |v|, |q|, |r| <= 2^30 keeps them apart (libsecp256k1's bound). With the loop
 * unrolled twice (V8 checks the stack on every back edge and spilled g across it) the 30 steps
 * measured ~25 % faster than four 32-bit entries in a plain loop; the divsteps are ~70 % of an
 * inversion (full unrolling measured slower). */
static int32_t divsteps_30(int32_t zeta, u32 f0, u32 g0, trans30 *t) {
  i64 uv = 1, qr = (i64)1 << 32, z = zeta, c1, c2, x, y;
  u64 f = f0, g = g0;
  _Pragma("clang loop unroll_count(2)") for (int i = 0; i < 30; i++) {
    c1 = z >> 63;                /* delta > 0 */
    c2 = -(i64)(g & 1);          /* g odd */
    x = ((i64)f ^ c1) - c1;
    y = (uv ^ c1) - c1;
    g += (u64)(x & c2);
    qr += y & c2;
    c1 &= c2;                    /* swap: delta > 0 and g odd */
    z = (z ^ c1) - 1;
    f += g & (u64)c1;
    uv += qr & c1;
    g >>= 1;
    uv = (i64)((u64)uv << 1);
  }
  int32_t u = (int32_t)uv, q = (int32_t)qr;
  t->u = u;
  t->v = (int32_t)((uv - u) >> 32);
  t->q = q;
  t->r = (int32_t)((qr - q) >> 32);
  return (int32_t)z;
}

/* (a, b) <- t (a, b) / 2^30. For (f, g) (`mod` = 0) the division is exact. For (d, e) it is
 * modulo mod->m: multiples ma, mb of the modulus are added so the low 30 bits vanish first,
 * keeping d, e in (-2m, m). Whether `mod` is null is a property of the call site. */
static void update_30(s30 *a, s30 *b, const trans30 *t, const mod30 *mod) {
  const i64 u = t->u, v = t->v, q = t->q, r = t->r;
  i64 ca = u * a->v[0] + v * b->v[0];
  i64 cb = q * a->v[0] + r * b->v[0];
  int32_t ma = 0, mb = 0;
  static const s30 zero30;
  const s30 *m = mod ? &mod->m : &zero30;
  if (mod) {
    int32_t sa = a->v[8] >> 31, sb = b->v[8] >> 31;
    ma = (t->u & sa) + (t->v & sb);
    mb = (t->q & sa) + (t->r & sb);
    ma -= (int32_t)((mod->inv30 * (u32)ca + (u32)ma) & M30);
    mb -= (int32_t)((mod->inv30 * (u32)cb + (u32)mb) & M30);
    ca += (i64)m->v[0] * ma;
    cb += (i64)m->v[0] * mb;
  }
  ca >>= 30;
  cb >>= 30;
  for (int i = 1; i < 9; i++) {
    ca += u * a->v[i] + v * b->v[i] + (i64)m->v[i] * ma;
    cb += q * a->v[i] + r * b->v[i] + (i64)m->v[i] * mb;
    a->v[i - 1] = (int32_t)((u32)ca & M30);
    ca >>= 30;
    b->v[i - 1] = (int32_t)((u32)cb & M30);
    cb >>= 30;
  }
  a->v[8] = (int32_t)ca;
  b->v[8] = (int32_t)cb;
}

static void carry_30(s30 *r) {
  for (int i = 0; i < 8; i++) {
    r->v[i + 1] += r->v[i] >> 30;
    r->v[i] &= (int32_t)M30;
  }
}

/* r in (-2m, m) times sign(f) (f = +-1) brought into [0, m), with masks only. */
static void normalize_30(s30 *r, int32_t fsign, const s30 *m) {
  int32_t add = r->v[8] >> 31;
  for (int i = 0; i < 9; i++) r->v[i] += m->v[i] & add;
  int32_t neg = fsign >> 31;
  for (int i = 0; i < 9; i++) r->v[i] = (r->v[i] ^ neg) - neg;
  carry_30(r);
  add = r->v[8] >> 31;
  for (int i = 0; i < 9; i++) r->v[i] += m->v[i] & add;
  carry_30(r);
}

/* r = a^-1 mod m for a plain integer a in [0, m) (0 gives 0). */
static void safegcd_inv(u32 r[8], const u32 a[8], const mod30 *mod) {
  s30 f = mod->m, g, d, e;
  for (int i = 0; i < 9; i++) {
    d.v[i] = 0;
    e.v[i] = 0;
  }
  e.v[0] = 1;
  to_s30(&g, a);
  int32_t zeta = -1;
  trans30 t;
  for (int i = 0; i < 20; i++) {
    zeta = divsteps_30(zeta, (u32)f.v[0], (u32)g.v[0], &t);
    update_30(&d, &e, &t, mod);
    update_30(&f, &g, &t, 0);
  }
  normalize_30(&d, f.v[8], &mod->m);
  from_s30(r, &d);
}

/* r = a^-1 for a in Montgomery form (a = 0 gives 0). The plain inverse of aR is
 * a^-1 R^-1; multiplying by R^3 in the Montgomery domain gives a^-1 R. */
static void fp_inv(fe r, const fe a) {
  u32 c[8], plain[8];
  fe x;
  fe_canon(c, a);
  safegcd_inv(plain, c, &MOD_P);
  fe_from_words(x, plain);
  fp_mul(r, x, R3_M);
}

/* ---------------------------------------------------------------- points */

/* Doubling, a = -3 (dbl-2001-b): 3M + 5S. Z = 0 maps to Z = 0. */
static void pt_dbl(jac *r, const jac *p) {
  fe delta, gamma, beta, alpha, t0, t1;
  fp_sqr(delta, p->z);
  fp_sqr(gamma, p->y);
  fp_mul(beta, p->x, gamma);
  /* alpha = 3 (X - delta)(X + delta) */
  fp_sub(t0, p->x, delta);
  fp_add(t1, p->x, delta);
  fp_mul(alpha, t0, t1);
  fp_scale(alpha, alpha, 3);
  /* Z3 = (Y + Z)^2 - gamma - delta */
  fp_add(t0, p->y, p->z);
  fp_sqr(t0, t0);
  fp_sub2(r->z, t0, gamma, delta);
  /* X3 = alpha^2 - 8 beta */
  fp_scale(beta, beta, 4);
  fp_sqr(t0, alpha);
  fp_sub_k(r->x, t0, beta, 2);
  /* Y3 = alpha (4 beta - X3) - 8 gamma^2 */
  fp_sub(t0, beta, r->x);
  fp_mul(t0, alpha, t0);
  fp_sqr(t1, gamma);
  fp_sub_k(r->y, t0, t1, 8);
}

/* Addition P + Q (add-2007-bl) without exceptional cases; sets h_zero and r_zero to masks
 * telling whether H = 0 and r = 0 (P = ±Q) so callers can handle them. r may alias p. */
static void pt_add_core(jac *out, const jac *p, const jac *q, u32 *h_zero, u32 *r_zero) {
  fe z1z1, z2z2, u1, u2, s1, s2, h, i, j, rr, v, t;
  fp_sqr(z1z1, p->z);
  fp_sqr(z2z2, q->z);
  fp_mul(u1, p->x, z2z2);
  fp_mul(u2, q->x, z1z1);
  fp_mul(s1, p->y, q->z);
  fp_mul(s1, s1, z2z2);
  fp_mul(s2, q->y, p->z);
  fp_mul(s2, s2, z1z1);
  fp_sub(h, u2, u1);
  fp_sub(rr, s2, s1);
  /* The exceptional-case masks cost two canonicalisations: only when asked (public flag). */
  if (h_zero) {
    *h_zero = fe_is_zero(h);
    *r_zero = fe_is_zero(rr);
  }
  fp_add(i, h, h);
  fp_sqr(i, i);
  fp_mul(j, h, i);
  fp_add(rr, rr, rr);
  fp_mul(v, u1, i);
  jac o;
  fp_sqr(t, rr);
  fp_sub(t, t, j);
  fp_sub(t, t, v);
  fp_sub(o.x, t, v);
  fp_sub(t, v, o.x);
  fp_mul(t, rr, t);
  fp_mul(s1, s1, j);
  fp_add(s1, s1, s1);
  fp_sub(o.y, t, s1);
  fp_add(t, p->z, q->z);
  fp_sqr(t, t);
  fp_sub(t, t, z1z1);
  fp_sub(t, t, z2z2);
  fp_mul(o.z, t, h);
  *out = o;
}

/* The part of a mixed addition after H and R: X3 = R^2 - H^3 - 2 X1 H^2,
 * Y3 = R (X1 H^2 - X3) - Y1 H^3 into o (Z3 is the caller's). */
static inline __attribute__((always_inline)) void madd_tail(jac *o, const fe x1, const fe y1, const fe h, const fe rr) {
  fe hh, hhh, v, t;
  fp_sqr(hh, h);
  fp_mul(hhh, hh, h);
  fp_mul(v, x1, hh);
  fp_sqr(t, rr);
  fp_sub_b2c(o->x, t, hhh, v);
  fp_sub(t, v, o->x);
  fp_mul_sub(o->y, rr, t, y1, hhh);
}

/* Mixed addition P + Q with Q affine (Z2 = 1), no exceptional cases handled: with
 * H = X2 Z1^2 - X1 and R = Y2 Z1^3 - Y1, X3 = R^2 - H^3 - 2 X1 H^2,
 * Y3 = R (X1 H^2 - X3) - Y1 H^3, Z3 = Z1 H: 8M + 3S, fewer additions than madd-2007-bl. H, R
 * and Y3 are each reduced once with their subtraction (fp_mul_subv, fp_mul_sub), so only X3
 * and X1 H^2 - X3 pay a fold: 10 reductions and 2 folds (were 11 and 5). */
static void pt_madd_core(jac *out, const jac *p, const aff *q, u32 *h_zero, u32 *r_zero) {
  fe z1z1, z3, h, rr;
  jac o;
  fp_sqr(z1z1, p->z);
  fp_mul(z3, z1z1, p->z);
  fp_mul_subv(h, q->x, z1z1, p->x);
  fp_mul_subv(rr, q->y, z3, p->y);
  if (h_zero) {
    *h_zero = fe_is_zero(h);
    *r_zero = fe_is_zero(rr);
  }
  fp_mul(o.z, p->z, h);
  madd_tail(&o, p->x, p->y, h, rr);
  *out = o;
}

/* P + Q for two affine points (Z1 = Z2 = 1), no exceptional cases handled: the mixed addition
 * with Z1^2 = Z1^3 = 1, so H = X2 - X1, R = Y2 - Y1, Z3 = H (4M + 2S where it is 8M + 3S). */
static void pt_aadd(jac *out, const aff *p, const aff *q) {
  fe h, rr;
  fp_sub(h, q->x, p->x);
  fp_sub(rr, q->y, p->y);
  fe_copy(out->z, h);
  madd_tail(out, p->x, p->y, h, rr);
}

/* Constant-time addition for the fixed-window ladder: handles P = O and Q = O with masked
 * selects and P = -Q through the formula (H = 0 gives Z3 = 0). The doubling case P = Q
 * cannot arise there (see mul_ct), so it is not computed. */
static void pt_add_ct(jac *r, const jac *p, const jac *q) {
  jac sum;
  pt_add_core(&sum, p, q, 0, 0);
  u32 pinf = fe_is_zero(p->z), qinf = fe_is_zero(q->z);
  cmov((u32 *)&sum, (const u32 *)q, 36, pinf);
  cmov((u32 *)&sum, (const u32 *)p, 36, qinf & ~pinf);
  *r = sum;
}

/* Variable-time addition for public points. */
static void pt_add_vartime(jac *r, const jac *p, const jac *q) {
  if (fe_is_zero(p->z)) { *r = *q; return; }
  if (fe_is_zero(q->z)) { *r = *p; return; }
  u32 hz, rz;
  jac sum;
  pt_add_core(&sum, p, q, &hz, &rz);
  if (hz) {
    if (rz) pt_dbl(r, p);
    else for (int i = 0; i < 12; i++) { r->x[i] = 0; r->y[i] = 0; r->z[i] = 0; }
    return;
  }
  *r = sum;
}

static void pt_madd_vartime(jac *r, const jac *p, const aff *q) {
  if (fe_is_zero(p->z)) {
    fe_copy(r->x, q->x);
    fe_copy(r->y, q->y);
    fe_copy(r->z, ONE_M);
    return;
  }
  u32 hz, rz;
  jac sum;
  pt_madd_core(&sum, p, q, &hz, &rz);
  if (hz) {
    jac pj;
    fe_copy(pj.x, q->x);
    fe_copy(pj.y, q->y);
    fe_copy(pj.z, ONE_M);
    if (rz) pt_dbl(r, &pj);
    else for (int i = 0; i < 12; i++) { r->x[i] = 0; r->y[i] = 0; r->z[i] = 0; }
    return;
  }
  *r = sum;
}

/* Affine conversion (constant-time inversion); returns 0 for the point at infinity. */
static int pt_to_affine(aff *r, const jac *p) {
  fe zi, zi2;
  fp_inv(zi, p->z);
  fp_sqr(zi2, zi);
  fp_mul(r->x, p->x, zi2);
  fp_mul(zi2, zi2, zi);
  fp_mul(r->y, p->y, zi2);
  return !fe_is_zero(p->z);
}

/* ---------------------------------------------------------------- comb tables */

/* Build tab[i][j] = (2j+1) * 2^(7i) * base (the odd multiples, see comb_digit) for an affine
 * base. Each window's 64 Jacobian points share one inversion (Montgomery's trick) to become
 * affine. Public data, variable time. No entry is O: n is prime and every multiple used is a
 * nonzero (2j+1) * 2^(7i) below n. */
static void aff_pack(affp *o, const aff *a) {
  fe_canon(o->x, a->x);
  fe_canon(o->y, a->y);
}

static void aff_unpack(aff *o, const affp *a) {
  fe_from_words(o->x, a->x);
  fe_from_words(o->y, a->y);
}

static void comb_build(comb_table *tab, const aff *base) {
  jac b;
  fe_copy(b.x, base->x);
  fe_copy(b.y, base->y);
  fe_copy(b.z, ONE_M);
  fe inv, zi, zi2;
  aff o;
  for (int i = 0; i < COMB_WINDOWS; i++) {
    jac *row = batch_jac, b2;
    row[0] = b;
    pt_dbl(&b2, &b);
    for (int j = 1; j < COMB_ENTRIES; j++) pt_add_vartime(&row[j], &row[j - 1], &b2);
    /* next base = 2^7 b = 127 b + b */
    pt_add_vartime(&b, &row[COMB_ENTRIES - 1], &b);
    fe_copy(batch_prod[0], row[0].z);
    for (int k = 1; k < COMB_ENTRIES; k++) fp_mul(batch_prod[k], batch_prod[k - 1], row[k].z);
    fp_inv(inv, batch_prod[COMB_ENTRIES - 1]);
    for (int k = COMB_ENTRIES - 1; k >= 0; k--) {
      if (k > 0) {
        fp_mul(zi, inv, batch_prod[k - 1]);
        fp_mul(inv, inv, row[k].z);
      } else {
        fe_copy(zi, inv);
      }
      fp_sqr(zi2, zi);
      fp_mul(o.x, row[k].x, zi2);
      fp_mul(zi2, zi2, zi);
      fp_mul(o.y, row[k].y, zi2);
      aff_pack(&tab->row[i][k], &o);
    }
  }
  /* [d 2^253]B = 2 [d 2^252]B, doubling the top row's entries for d = 9, 11, 13, 15. */
  for (int j = 0; j < COMB_TOP2; j++) {
    jac t;
    aff_unpack(&o, &tab->row[COMB_WINDOWS - 1][4 + j]);
    fe_copy(t.x, o.x);
    fe_copy(t.y, o.y);
    fe_copy(t.z, ONE_M);
    pt_dbl(&t, &t);
    pt_to_affine(&o, &t);
    aff_pack(&tab->top2[j], &o);
  }
}

/* Odd signed-digit recoding (regular windows, every digit odd and nonzero, so no window
 * adds the point at infinity and no mask is needed for it). For odd k,
 * k = sum_{i<37} d_i 2^(7i) with d_i = (bits [7i, 7i+7] of k with bit 7i set to 1) - 128 for
 * i < 36, in {-127, ..., -1, 1, ..., 127} odd, and d_36 = (bits [252, 255] | 1) in [1, 15]:
 * writing k_0 = k and k_(i+1) = (k_i - d_i) / 2^7, each k_i is odd and k_i mod 2^8 - 128
 * removes the low 7 bits while setting bit 0 of the quotient, i.e. k_(i+1) = (k_i >> 7) | 1.
 * Returns the table index (|d| - 1) / 2 and sets *neg to an all-ones mask when d < 0. No branch
 * or index depends on k (the bit position is public). */
static u32 comb_digit(const u32 k[8], int i, u32 *neg) {
  int lo = COMB_W * i, w = lo >> 5, s = lo & 31;
  u64 two = (u64)k[w];
  if (w + 1 < 8) two |= (u64)k[w + 1] << 32;
  i64 d = (i64)(((u32)(two >> s) & 0xff) | 1) - (i < COMB_WINDOWS - 1 ? 128 : 0);
  u32 sm = (u32)(d >> 63);
  *neg = sm;
  return ((((u32)d ^ sm) - sm) - 1) >> 1;
}

/* k' = k when k is odd, else n - k (odd, as n is): [k]B = -[k']B then, so the caller flips every
 * digit's sign under the returned mask (all ones when k was even). Constant-time. */
static u32 make_odd(u32 out[8], const u32 k[8]) {
  u32 nk[8];
  i64 br = 0;
  for (int i = 0; i < 8; i++) {
    br += (i64)N[i] - k[i];
    nk[i] = (u32)br;
    br >>= 32;
  }
  u32 even = (k[0] & 1) - 1;
  for (int i = 0; i < 8; i++) out[i] = (nk[i] & even) | (k[i] & ~even);
  secure_zero(nk, sizeof nk);
  return even;
}

/* out = the entry idx (1-based) of row, or all zeros when idx = 0: every entry is read and
 * combined under a mask (v128.bitselect), so the memory access pattern does not depend on
 * idx. `vecs` is the entry size in 16-byte vectors. */
static void ct_select(void *out, const void *row, u32 entries, u32 vecs, u32 idx) {
  v128_t acc[9];
  for (u32 v = 0; v < vecs; v++) acc[v] = wasm_i32x4_splat(0);
  const unsigned char *e = (const unsigned char *)row;
  for (u32 j = 0; j < entries; j++) {
    v128_t m = wasm_i32x4_splat((int32_t)(u32)(((u64)(idx ^ (j + 1)) - 1) >> 32));
    for (u32 v = 0; v < vecs; v++) acc[v] = wasm_v128_bitselect(wasm_v128_load(e + 16 * v), acc[v], m);
    e += 16 * vecs;
  }
  unsigned char *o = (unsigned char *)out;
  for (u32 v = 0; v < vecs; v++) wasm_v128_store(o + 16 * v, acc[v]);
}

/* ct_select for a comb row of 64-byte entries, unrolled: a vector counter compared with idx
 * (i32x4.eq) makes each entry's mask, and the entries are OR-ed in under it. */
static inline __attribute__((always_inline)) void ct_select_row(affp *out, const affp *row, u32 idx) {
  const v128_t want = wasm_i32x4_splat((int32_t)idx), one = wasm_i32x4_splat(1);
  v128_t cnt = wasm_i32x4_splat(0), a0 = cnt, a1 = cnt, a2 = cnt, a3 = cnt;
  const unsigned char *e = (const unsigned char *)row;
  for (u32 j = 0; j < COMB_ENTRIES; j++, e += 64) {
    cnt = wasm_i32x4_add(cnt, one);
    v128_t m = wasm_i32x4_eq(cnt, want);
    a0 = wasm_v128_or(a0, wasm_v128_and(wasm_v128_load(e), m));
    a1 = wasm_v128_or(a1, wasm_v128_and(wasm_v128_load(e + 16), m));
    a2 = wasm_v128_or(a2, wasm_v128_and(wasm_v128_load(e + 32), m));
    a3 = wasm_v128_or(a3, wasm_v128_and(wasm_v128_load(e + 48), m));
  }
  unsigned char *o = (unsigned char *)out;
  wasm_v128_store(o, a0);
  wasm_v128_store(o + 16, a1);
  wasm_v128_store(o + 32, a2);
  wasm_v128_store(o + 48, a3);
}

/* Unpack a table entry, with y negated under the mask neg: p - y limb by limb is loose (y is
 * canonical, so the value is in [1, p] and every limb is within (-2^29, 2^29)). */
static inline __attribute__((always_inline)) void aff_unpack_neg(aff *o, const affp *a, u32 neg) {
  fe_from_words(o->x, a->x);
  fe_from_words(o->y, a->y);
  int32_t m = (int32_t)neg;
  _Pragma("clang loop unroll(full)") for (int i = 0; i < FE_N; i++) {
    int32_t y = o->y[i], ny = (P4[i] >> 2) - y;
    o->y[i] = (ny & m) | (y & ~m);
  }
}

/* The top window's doubling case (see comb_mul_ct): acc = t there exactly when
 * k' + n = 2 d_36 2^252 = d_36 2^253, with d_36 = (k' >> 252) | 1, and then the sum is
 * [d_36 2^253]base, negated under flip. Tested on the scalar with masks and taken from the
 * table's top2 entries (all four read) instead of computing a doubling every time. */
static void comb_top_fix(jac *acc, const comb_table *tab, const u32 ko[8], u32 flip) {
  u32 s[9], d = (ko[7] >> 28) | 1;
  u64 c = 0;
  for (int i = 0; i < 8; i++) {
    c += (u64)ko[i] + N[i];
    s[i] = (u32)c;
    c >>= 32;
  }
  s[8] = (u32)c;
  u32 diff = (s[7] ^ (d << 29)) | (s[8] ^ (d >> 3));
  for (int i = 0; i < 7; i++) diff |= s[i];
  u32 exc = (u32)(((u64)diff - 1) >> 32); /* all ones when k' + n = d 2^253 */
  affp tp;
  aff t;
  jac fix;
  /* Index (d - 9) / 2 + 1; for d < 9 (never the doubling case) it matches no entry. */
  ct_select(&tp, tab->top2, COMB_TOP2, 4, ((d - 9) >> 1) + 1);
  aff_unpack_neg(&t, &tp, flip);
  fe_copy(fix.x, t.x);
  fe_copy(fix.y, t.y);
  fe_copy(fix.z, ONE_M);
  cmov((u32 *)acc, (const u32 *)&fix, 36, exc);
  secure_zero(s, sizeof s);
  secure_zero(&tp, sizeof tp);
}

/* Constant-time comb multiplication acc = [k] * base using table tab, k in [1, n-1] (k = 0
 * gives O). With k' odd (make_odd) and its digits d_i, acc = [v]base after window i-1 with
 * v = +-sum_{j<i} d_j 2^(7j), |v| <= 2^(7i) - 1, and the window adds t = [+-d_i 2^(7i)]base.
 * For 1 <= i <= 35, v -+ d_i 2^(7i) is odd (d_0 is odd, the rest even) and below 2^252 < n in
 * absolute value, so acc != +-t and the mixed addition needs no exceptional case. In the top
 * window (|d| <= 15) acc = -t would mean k' = 0 (mod n), impossible, but acc = t (v - d 2^252
 * = -n) happens for a few k (e.g. k' = 18 * 2^252 - n): comb_top_fix replaces the addition's
 * result then. The first two windows' points are both affine, so their sum is pt_aadd. */
static void comb_mul_ct(jac *acc, const comb_table *tab, const u32 k[8]) {
  u32 ko[8], flip = make_odd(ko, k);
  affp tp;
  aff t, first;
  for (int i = 0; i < COMB_WINDOWS; i++) {
    u32 neg, idx = comb_digit(ko, i, &neg);
    ct_select_row(&tp, tab->row[i], idx + 1);
    aff_unpack_neg(&t, &tp, neg ^ flip);
    if (i == 0) {
      first = t;
    } else if (i == 1) {
      pt_aadd(acc, &first, &t);
    } else {
      pt_madd_core(acc, acc, &t, 0, 0);
    }
  }
  comb_top_fix(acc, tab, ko, flip);
  secure_zero(ko, sizeof ko);
  secure_zero(&first, sizeof first);
}

/* Variable-time comb for public scalars (verification). */
static void comb_mul_vartime(jac *acc, const comb_table *tab, const u32 k[8]) {
  u32 ko[8], flip = make_odd(ko, k);
  for (int i = 0; i < COMB_WINDOWS; i++) {
    u32 neg, idx = comb_digit(ko, i, &neg);
    aff t;
    aff_unpack(&t, &tab->row[i][idx]);
    if (neg ^ flip) fp_neg(t.y, t.y);
    pt_madd_vartime(acc, acc, &t);
  }
}

/* ---------------------------------------------------------------- variable base, CT */

/* [k]P for secret k: 4-bit fixed window over the table 1P..15P, each entry selected by
 * scanning all of them under a mask. Before adding digit d in [0, 15] the accumulator is
 * [16v]P with v >= 1 the value of the higher digits (or O when v = 0), and 16v > 15 >= d
 * with both below n, so the accumulator never equals [d]P: the constant-time addition
 * only needs the O cases (acc = O, digit 0) and P = -Q, which its formula covers. */
static void mul_ct(jac *r, const aff *p, const u32 k[8]) {
  jac tab[15];
  fe_copy(tab[0].x, p->x);
  fe_copy(tab[0].y, p->y);
  fe_copy(tab[0].z, ONE_M);
  for (int i = 1; i < 15; i++) {
    if (i & 1) pt_dbl(&tab[i], &tab[i / 2]); /* (i+1)P = 2 * ((i+1)/2)P */
    else pt_add_vartime(&tab[i], &tab[i - 1], &tab[0]); /* table depends on P only */
  }
  jac acc, t;
  for (int i = 0; i < 12; i++) { acc.x[i] = 0; acc.y[i] = 0; acc.z[i] = 0; }
  for (int i = 63; i >= 0; i--) {
    for (int d = 0; d < 4; d++) pt_dbl(&acc, &acc);
    u32 nib = (k[i >> 3] >> ((i & 7) * 4)) & 15;
    ct_select(&t, tab, 15, 9, nib);
    pt_add_ct(&acc, &acc, &t);
  }
  *r = acc;
  secure_zero(&acc, sizeof acc);
  secure_zero(&t, sizeof t);
}

/* ---------------------------------------------------------------- w-NAF, variable time */

/* Width-5 NAF of k (< 2^256): digits in {0, ±1, ±3, ..., ±15}; returns the length. */
static int wnaf5(signed char out[258], const u32 kin[8]) {
  u32 k[9];
  for (int i = 0; i < 8; i++) k[i] = kin[i];
  k[8] = 0;
  int len = 0;
  for (;;) {
    int nz = 0;
    for (int i = 0; i < 9; i++) nz |= k[i] != 0;
    if (!nz) break;
    int d = 0;
    if (k[0] & 1) {
      d = (int)(k[0] & 31);
      if (d >= 16) d -= 32;
      /* k -= d */
      i64 c = -(i64)d;
      for (int i = 0; i < 9 && c != 0; i++) {
        c += k[i];
        k[i] = (u32)c;
        c >>= 32;
      }
    }
    out[len++] = (signed char)d;
    for (int i = 0; i < 8; i++) k[i] = (k[i] >> 1) | (k[i + 1] << 31);
    k[8] >>= 1;
  }
  return len;
}

/* acc = [k]P for public k and P, w-NAF with odd multiples P, 3P, ..., 15P. */
static void mul_wnaf(jac *acc, const aff *p, const u32 k[8]) {
  jac odd[8], p2;
  fe_copy(odd[0].x, p->x);
  fe_copy(odd[0].y, p->y);
  fe_copy(odd[0].z, ONE_M);
  pt_dbl(&p2, &odd[0]);
  for (int i = 1; i < 8; i++) pt_add_vartime(&odd[i], &odd[i - 1], &p2);
  signed char naf[258];
  int len = wnaf5(naf, k);
  for (int i = 0; i < 12; i++) { acc->x[i] = 0; acc->y[i] = 0; acc->z[i] = 0; }
  for (int i = len - 1; i >= 0; i--) {
    pt_dbl(acc, acc);
    int d = naf[i];
    if (d > 0) {
      pt_add_vartime(acc, acc, &odd[d >> 1]);
    } else if (d < 0) {
      jac t = odd[(-d) >> 1];
      fp_neg(t.y, t.y);
      pt_add_vartime(acc, acc, &t);
    }
  }
}

/* ---------------------------------------------------------------- init */

static aff G_M;
static int ready = 0;

static void init(void) {
  u32 r[8];
  fe_from_words(P4, P);
  for (int i = 0; i < FE_N; i++) P4[i] *= 4;
  /* Column 8 + i of p 2^259 is bits [29 i - 27, 29 i + 2) of p: limb i of p 2^27. */
  for (int i = 0; i < 2 * FE_N; i++) KP_COLS[i] = 0;
  for (int i = 0; i <= FE_N; i++) {
    for (int bit = 0; bit < FE_RB; bit++) {
      int src_bit = FE_RB * i + bit - 27;
      if (src_bit >= 0 && src_bit < 256 && ((P[src_bit >> 5] >> (src_bit & 31)) & 1)) KP_COLS[8 + i] |= (i64)1 << bit;
    }
  }
  for (int i = 0; i < 12; i++) ZERO_FE[i] = 0;
  fe_from_words(ONE_M, R1_STD);
  fe_from_words(RR_M, R2_STD);
  fe_from_words(R3_M, R3_STD);
  to_s30(&MOD_P.m, P);
  MOD_P.inv30 = M30; /* p = -1 (mod 2^64), so p^-1 = -1 (mod 2^30) */
  /* R mod n = 2^256 - n (n > 2^255). */
  {
    i64 br = 0;
    for (int i = 0; i < 8; i++) {
      br += (i64)0 - N[i];
      r[i] = (u32)br;
      br >>= 32;
    }
  }
  for (int i = 0; i < 256; i++) mod_add(r, r, r, N);
  cpy(RR_N, r);
  /* -n^-1 mod 2^32 by Newton iteration (each step doubles the correct low bits). */
  u32 inv = 1;
  for (int i = 0; i < 5; i++) inv *= 2 - N[0] * inv;
  N0INV = 0u - inv;
  to_s30(&MOD_N.m, N);
  MOD_N.inv30 = inv & M30; /* n^-1 mod 2^30 */
  /* The square-root exponent (p + 1) / 4. */
  {
    u32 t[8];
    u64 c = 1;
    for (int i = 0; i < 8; i++) {
      c += P[i];
      t[i] = (u32)c;
      c >>= 32;
    }
    /* p + 1 < 2^256, no carry out; shift right by 2. */
    for (int i = 0; i < 8; i++) EXP_P_SQRT[i] = (t[i] >> 2) | (i < 7 ? t[i + 1] << 30 : 0);
  }
  fp_to_mont(B_M, B_STD);
  fp_to_mont(G_M.x, GX_STD);
  fp_to_mont(G_M.y, GY_STD);
  comb_build(&comb_g, &G_M);
  ready = 1;
}

EXPORT("sm2_init") void sm2_init(void) {
  if (!ready) init();
}

/* ---------------------------------------------------------------- exported operations */

/* y^2 = x^3 - 3x + b with x, y in Montgomery form. */
static int on_curve(const aff *q) {
  fe l, rr, t;
  fp_sqr(l, q->y);
  fp_sqr(rr, q->x);
  fp_mul(rr, rr, q->x);
  fp_add(t, q->x, q->x);
  fp_add(t, t, q->x);
  fp_sub(rr, rr, t);
  fp_add(rr, rr, B_M);
  return (int)(fe_eq(l, rr) & 1);
}

/* Parse x || y (big-endian) at b into Montgomery form; 0 if a coordinate is >= p. */
static int load_point(aff *q, const unsigned char *b) {
  u32 x[8], y[8];
  from_be(x, b);
  from_be(y, b + 32);
  if (!lt_vartime(x, P) || !lt_vartime(y, P)) return 0;
  fp_to_mont(q->x, x);
  fp_to_mont(q->y, y);
  return 1;
}

static void store_affine(unsigned char *b, const aff *q) {
  u32 t[8];
  fp_from_mont(t, q->x);
  to_be(b, t);
  fp_from_mont(t, q->y);
  to_be(b + 32, t);
}

/* GB/T 32918.1 §6.2 public-key validation of io[0..64): coordinates < p, on the curve,
 * not O (O has no affine encoding); nQ = O holds for every curve point as h = 1. */
EXPORT("sm2_valid_point") u32 sm2_valid_point(void) {
  aff q;
  if (!load_point(&q, io)) return 0;
  return (u32)on_curve(&q);
}

/* Decompression of x at io[0..32) with y parity `odd`; writes x || y to io[0..64).
 * y = (x^3 - 3x + b)^((p+1)/4) as p = 3 (mod 4) (GB/T 32918.1 Annex B.1.3). */
EXPORT("sm2_decompress") u32 sm2_decompress(u32 odd) {
  u32 x[8];
  from_be(x, io);
  if (!lt_vartime(x, P)) return 0;
  aff q;
  fp_to_mont(q.x, x);
  fe rhs, t;
  u32 y[8];
  fp_sqr(rhs, q.x);
  fp_mul(rhs, rhs, q.x);
  fp_add(t, q.x, q.x);
  fp_add(t, t, q.x);
  fp_sub(rhs, rhs, t);
  fp_add(rhs, rhs, B_M);
  fp_pow(q.y, rhs, EXP_P_SQRT);
  fp_sqr(t, q.y);
  if (!fe_eq(t, rhs)) return 0;
  fp_from_mont(y, q.y);
  if ((y[0] & 1) != (odd & 1)) {
    if (is_zero_mask(y)) return 0; /* y = 0: only the even root exists */
    mod_sub(y, P, y, P);
  }
  to_be(io + 32, y);
  return 1;
}

/* [k]base by the masked comb over `tab`, k at io[0..32); x || y to io[0..64); 0 for O. */
static u32 comb_export(const comb_table *tab) {
  u32 k[8];
  from_be(k, io);
  jac acc;
  aff a;
  comb_mul_ct(&acc, tab, k);
  int ok = pt_to_affine(&a, &acc);
  store_affine(io, &a);
  secure_zero(k, sizeof k);
  secure_zero(&acc, sizeof acc);
  secure_zero(&a, sizeof a);
  burn_stack();
  return (u32)ok;
}

/* [k]G for k at io[0..32) (constant-time); writes x || y to io[0..64). 0 for O. */
EXPORT("sm2_mul_g") u32 sm2_mul_g(void) { return comb_export(&comb_g); }

/* [k]P for k at io[0..32), P at io[32..96) (constant-time in k); x || y to io[0..64). */
EXPORT("sm2_mul") u32 sm2_mul(void) {
  u32 k[8];
  aff p, a;
  jac acc;
  from_be(k, io);
  if (!load_point(&p, io + 32)) return 0;
  mul_ct(&acc, &p, k);
  int ok = pt_to_affine(&a, &acc);
  store_affine(io, &a);
  secure_zero(k, sizeof k);
  secure_zero(&acc, sizeof acc);
  secure_zero(&a, sizeof a);
  burn_stack();
  return (u32)ok;
}

/* [u1]P + [u2]Q, public data: u1 at io[0..32), P at io[32..96), u2 at io[96..128),
 * Q at io[128..192); x || y to io[0..64); 0 for O. */
EXPORT("sm2_mul_add") u32 sm2_mul_add(void) {
  u32 u1[8], u2[8];
  aff p, q, a;
  jac s, t;
  from_be(u1, io);
  from_be(u2, io + 96);
  if (!load_point(&p, io + 32) || !load_point(&q, io + 128)) return 0;
  mul_wnaf(&s, &p, u1);
  mul_wnaf(&t, &q, u2);
  pt_add_vartime(&s, &s, &t);
  if (fe_is_zero(s.z)) return 0;
  pt_to_affine(&a, &s);
  store_affine(io, &a);
  return 1;
}

/* (1 + d)^-1 mod n for d at io[0..32) (d <= n - 2), constant-time; result to io[0..32). */
/* (1 + d)^-1 mod n for d at io[0..32), written to io[0..32) (constant-time). */
static void one_plus_d_inv(void) {
  u32 d[8], one[8] = {1, 0, 0, 0, 0, 0, 0, 0}, a[8], inv[8];
  from_be(d, io);
  mod_add(a, d, one, N);
  safegcd_inv(inv, a, &MOD_N);
  to_be(io, inv);
  secure_zero(d, sizeof d);
  secure_zero(a, sizeof a);
  secure_zero(inv, sizeof inv);
}

EXPORT("sm2_sign_prep") void sm2_sign_prep(void) {
  one_plus_d_inv();
  burn_stack();
}

/* Reduce a 256-bit value mod n (< 2n since n > 2^255): one conditional subtraction. */
static void reduce_n(u32 r[8], const u32 a[8]) { csub(r, a, 0, N); }

/* GB/T 32918.2 §6.1 A4-A6 with s = dInv (k + r) - r for k in [1, n-1]: r, s to the arrays.
 * Returns an all-ones mask, or 0 (retry with a new k) when r = 0, r + k = n or s = 0; those
 * events have probability ~2^-256 and only reveal a retry. */
static u32 sign_core(u32 r[8], u32 s[8], const u32 dinv[8], const u32 k[8], const u32 ein[8]) {
  u32 e[8], x1[8], t[8];
  fe zi, x1m;
  jac acc;
  comb_mul_ct(&acc, &comb_g, k);
  /* x1 = X / Z^2 (y1 is not needed). */
  fp_inv(zi, acc.z);
  fp_sqr(zi, zi);
  fp_mul(x1m, acc.x, zi);
  fp_from_mont(x1, x1m);
  reduce_n(e, ein);
  reduce_n(x1, x1);
  mod_add(r, e, x1, N);
  mod_add(t, r, k, N);
  u32 ok = ~is_zero_mask(r) & ~is_zero_mask(t);
  fn_mulmod(s, dinv, t);
  mod_sub(s, s, r, N);
  ok &= ~is_zero_mask(s);
  secure_zero(t, sizeof t);
  secure_zero(&acc, sizeof acc);
  secure_zero(zi, sizeof zi);
  secure_zero(x1, sizeof x1);
  secure_zero(x1m, sizeof x1m);
  return ok;
}

/* dInv at io[0..32), k at io[32..64), e at io[64..96); r || s to io[0..64); 0 = retry. */
EXPORT("sm2_sign") u32 sm2_sign(void) {
  u32 dinv[8], k[8], e[8], r[8], s[8];
  from_be(dinv, io);
  from_be(k, io + 32);
  from_be(e, io + 64);
  u32 ok = sign_core(r, s, dinv, k, e);
  to_be(io, r);
  to_be(io + 32, s);
  secure_zero(dinv, sizeof dinv);
  secure_zero(k, sizeof k);
  burn_stack();
  return ok & 1;
}

/* ---------------------------------------------------------------- hedged signing in one call */

#include "sm3-core.h"

/* CSPRNG bytes for nonces: the host fills the pool with crypto.getRandomValues and passes the
 * offset of 32 unused bytes to each signing call, which zeroes them after reading. */
#define RND_SIZE 4096
static unsigned char rnd[RND_SIZE] __attribute__((aligned(16)));
EXPORT("rnd_ptr") u32 rnd_ptr(void) { return (u32)(uintptr_t)rnd; }
EXPORT("rnd_size") u32 rnd_size(void) { return RND_SIZE; }

/* Z_A ‖ M for sm2_sign_msg: Z at msg[0..32), M after it; room for SM3 padding is not needed
 * (the tail is padded in a local block). */
#define MSG_MAX 4096
static unsigned char msg[32 + MSG_MAX] __attribute__((aligned(16)));
EXPORT("msg_ptr") u32 msg_ptr(void) { return (u32)(uintptr_t)msg; }
EXPORT("msg_max") u32 msg_max(void) { return MSG_MAX; }

static void state_to_be(unsigned char *b, const u32 v[8]) {
  for (int i = 0; i < 8; i++) put_be32(b + 4 * i, v[i]);
}

/* SM3 (GB/T 32905 §5) of buf[0..len) into out (32 bytes big-endian). */
static void sm3_digest(unsigned char out[32], const unsigned char *buf, u32 len) {
  u32 v[8];
  unsigned char blk[128];
  for (int i = 0; i < 8; i++) v[i] = SM3_IV[i];
  u32 full = len / 64, rem = len % 64;
  compress(v, buf, full);
  const unsigned char *tail = buf + 64 * full;
  for (u32 i = 0; i < rem; i++) blk[i] = tail[i];
  compress(v, blk, sm3_pad_tail(blk, rem, len) / 64);
  state_to_be(out, v);
}

/* d at io[0..32) (in [1, n-2]) -> the key's signing state in io[0..96): (1 + d)^-1 mod n
 * (big-endian), then the SM3 chaining values after the HMAC-SM3 key blocks (d ‖ 0^32) ^ ipad
 * and ^ opad (RFC 2104 §2), so each signature's nonce costs three compressions, not five. */
EXPORT("sm2_sign_setup") void sm2_sign_setup(void) {
  u32 ist[8], ost[8];
  unsigned char blk[64];
  for (int i = 0; i < 64; i++) blk[i] = (unsigned char)((i < 32 ? io[i] : 0) ^ 0x36);
  for (int i = 0; i < 8; i++) ist[i] = SM3_IV[i];
  compress(ist, blk, 1);
  for (int i = 0; i < 64; i++) blk[i] ^= 0x36 ^ 0x5c;
  for (int i = 0; i < 8; i++) ost[i] = SM3_IV[i];
  compress(ost, blk, 1);
  one_plus_d_inv();
  state_to_be(io + 32, ist);
  state_to_be(io + 64, ost);
  secure_zero(ist, sizeof ist);
  secure_zero(ost, sizeof ost);
  secure_zero(blk, sizeof blk);
  burn_stack();
}

/* All-ones when a < m, constant-time. */
static u32 lt_mask(const u32 a[8], const u32 m[8]) {
  i64 br = 0;
  for (int i = 0; i < 8; i++) {
    br += (i64)a[i] - m[i];
    br >>= 32;
  }
  return (u32)br;
}

/* INTEGER (X.690 §8.3, minimal two's complement) of a 32-byte big-endian positive value. */
static u32 der_int(unsigned char *o, const unsigned char *x) {
  u32 i = 0;
  while (i < 31 && x[i] == 0) i++; /* signatures are public: variable time is fine */
  u32 pad = x[i] >> 7, n = 32 - i;
  o[0] = 0x02;
  o[1] = (unsigned char)(n + pad);
  o[2] = 0;
  for (u32 j = 0; j < n; j++) o[2 + pad + j] = x[i + j];
  return 2 + pad + n;
}

/*
 * A whole hedged signature (GB/T 32918.2 §6.1 A1-A7) in one call. io[0..96) holds the key's
 * signing state from sm2_sign_setup; with `hash` set, msg[0..32+len) holds Z_A ‖ M and
 * e = SM3(Z_A ‖ M) is computed here, else e is at io[96..128). The nonce candidate for counter
 * c is k = HMAC-SM3(d, R ‖ e ‖ c) with R the 32 pool bytes at rnd[rnd_off] (RFC 6979 §3.6
 * "additional data" in spirit: a broken RNG still gives a secret k determined by (d, e)); it is
 * kept when in [1, n-1] and when A5/A6 do not ask for a retry. Writes the signature to io[0..)
 * as DER SEQUENCE { r, s } (der = 1) or r ‖ s and returns its length; 0 if 256 candidates all
 * failed (probability ~2^-256 each). Zeroes the state, the pool bytes and the message buffer.
 */
EXPORT("sm2_sign_hedged") u32 sm2_sign_hedged(u32 hash, u32 len, u32 rnd_off, u32 der) {
  u32 dinv[8], ist[8], ost[8], v[8], k[8], e[8], r[8], s[8];
  unsigned char blk1[64], blk2[64], ebytes[32];
  from_be(dinv, io);
  for (int i = 0; i < 8; i++) {
    ist[i] = be32(io + 32 + 4 * i);
    ost[i] = be32(io + 64 + 4 * i);
  }
  if (hash) {
    if (len > MSG_MAX) len = MSG_MAX;
    sm3_digest(ebytes, msg, 32 + len);
    secure_zero(msg, 32 + len);
  } else {
    for (int i = 0; i < 32; i++) ebytes[i] = io[96 + i];
  }
  from_be(e, ebytes);
  if (rnd_off > RND_SIZE - 32) rnd_off = RND_SIZE - 32;
  /* Inner hash: (K ^ ipad) ‖ R ‖ e ‖ c, 64 + 65 = 129 bytes: block 1 is R ‖ e, block 2 is
   * c ‖ 0x80 ‖ 0… ‖ [129 · 8]_64. Outer: (K ^ opad) ‖ inner, 96 bytes: one padded block. */
  for (int i = 0; i < 32; i++) {
    blk1[i] = rnd[rnd_off + i];
    blk1[32 + i] = ebytes[i];
  }
  secure_zero(rnd + rnd_off, 32);
  compress(ist, blk1, 1);
  for (int i = 0; i < 64; i++) blk2[i] = 0;
  blk2[1] = 0x80;
  blk2[62] = (unsigned char)((129 * 8) >> 8);
  blk2[63] = (unsigned char)(129 * 8);
  u32 ok = 0, out = 0;
  for (u32 c = 0; c < 256 && !ok; c++) {
    unsigned char ob[64], kb[32];
    blk2[0] = (unsigned char)c;
    for (int i = 0; i < 8; i++) v[i] = ist[i];
    compress(v, blk2, 1);
    state_to_be(ob, v);
    ob[32] = 0x80;
    for (int i = 33; i < 62; i++) ob[i] = 0;
    ob[62] = (unsigned char)((96 * 8) >> 8);
    ob[63] = (unsigned char)(96 * 8);
    for (int i = 0; i < 8; i++) v[i] = ost[i];
    compress(v, ob, 1);
    state_to_be(kb, v);
    from_be(k, kb);
    secure_zero(ob, sizeof ob);
    secure_zero(kb, sizeof kb);
    /* Only whether a candidate was rejected is revealed (a retry), never anything about k. */
    ok = ~is_zero_mask(k) & lt_mask(k, N);
    if (ok) ok = sign_core(r, s, dinv, k, e);
  }
  secure_zero(io, IO_SIZE);
  if (ok) {
    unsigned char rb[32], sb[32];
    to_be(rb, r);
    to_be(sb, s);
    if (der) {
      u32 n = der_int(io + 2, rb);
      n += der_int(io + 2 + n, sb);
      io[0] = 0x30;
      io[1] = (unsigned char)n;
      out = 2 + n;
    } else {
      for (int i = 0; i < 32; i++) {
        io[i] = rb[i];
        io[32 + i] = sb[i];
      }
      out = 64;
    }
  }
  secure_zero(dinv, sizeof dinv);
  secure_zero(ist, sizeof ist);
  secure_zero(ost, sizeof ost);
  secure_zero(v, sizeof v);
  secure_zero(k, sizeof k);
  secure_zero(blk1, sizeof blk1);
  burn_stack();
  return out;
}

/* GB/T 32918.2 §7.1 B1-B7 for P at io[0..64) (already validated), e at io[64..96),
 * r at io[96..128), s at io[128..160). `slot` < KEY_SLOTS uses that per-key table. */
EXPORT("sm2_verify") u32 sm2_verify(u32 slot) {
  u32 e[8], r[8], s[8], t[8], c[8];
  aff p;
  if (!load_point(&p, io)) return 0;
  from_be(e, io + 64);
  from_be(r, io + 96);
  from_be(s, io + 128);
  /* B1, B2: r, s in [1, n-1]. */
  if (is_zero_mask(r) || is_zero_mask(s) || !lt_vartime(r, N) || !lt_vartime(s, N)) return 0;
  /* B5: t = (r + s) mod n != 0. */
  mod_add(t, r, s, N);
  if (is_zero_mask(t)) return 0;
  /* B6: (x1, y1) = [s]G + [t]P. */
  jac acc;
  if (slot < KEY_SLOTS) {
    for (int i = 0; i < 12; i++) { acc.x[i] = 0; acc.y[i] = 0; acc.z[i] = 0; }
    comb_mul_vartime(&acc, &comb_key[slot], t);
  } else {
    mul_wnaf(&acc, &p, t);
  }
  comb_mul_vartime(&acc, &comb_g, s);
  if (fe_is_zero(acc.z)) return 0;
  /* B7: R = (e + x1) mod n == r. Rather than invert Z, test x1 = X/Z^2 against each
   * c in [0, p) with c = r - e (mod n): c0 = (r - e) mod n, and c0 + n when below p. */
  reduce_n(e, e);
  mod_sub(c, r, e, N);
  fe z2, cm, lhs;
  fp_sqr(z2, acc.z);
  fp_to_mont(cm, c);
  fp_mul(lhs, cm, z2);
  if (fe_eq(lhs, acc.x)) return 1;
  u64 carry = 0;
  u32 c2[8];
  for (int i = 0; i < 8; i++) {
    carry += (u64)c[i] + N[i];
    c2[i] = (u32)carry;
    carry >>= 32;
  }
  if (carry || !lt_vartime(c2, P)) return 0;
  fp_to_mont(cm, c2);
  fp_mul(lhs, cm, z2);
  return fe_eq(lhs, acc.x) & 1;
}

/* Build the per-key comb table of slot for the (validated) point at io[0..64). */
EXPORT("sm2_precompute") u32 sm2_precompute(u32 slot) {
  aff p;
  if (slot >= KEY_SLOTS || !load_point(&p, io)) return 0;
  comb_build(&comb_key[slot], &p);
  return 1;
}

EXPORT("sm2_key_slots") u32 sm2_key_slots(void) { return KEY_SLOTS; }

/* [k]P for the key whose table is in `slot` (k at io[0..32), constant-time in k): the same
 * masked comb as [k]G, so encrypting repeatedly to one public key costs two combs. */
EXPORT("sm2_mul_slot") u32 sm2_mul_slot(u32 slot) {
  if (slot >= KEY_SLOTS) return 0;
  return comb_export(&comb_key[slot]);
}

/* (a + b*c) mod n, constant-time: a at io[0..32), b at io[32..64), c at io[64..96). */
EXPORT("sm2_muladd_n") void sm2_muladd_n(void) {
  u32 a[8], b[8], c[8], t[8];
  from_be(a, io);
  from_be(b, io + 32);
  from_be(c, io + 64);
  reduce_n(a, a);
  reduce_n(b, b);
  reduce_n(c, c);
  fn_mulmod(t, b, c);
  mod_add(t, t, a, N);
  to_be(io, t);
  secure_zero(a, sizeof a);
  secure_zero(b, sizeof b);
  secure_zero(c, sizeof c);
  secure_zero(t, sizeof t);
  burn_stack();
}

/* Zero the I/O region (callers wipe secrets they passed through it). */
EXPORT("sm2_wipe") void sm2_wipe(void) { secure_zero(io, IO_SIZE); }
