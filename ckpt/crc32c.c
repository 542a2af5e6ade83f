#include "crc32c.h"

#include <pthread.h>
#include <string.h>

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <nmmintrin.h>
#define CRC32C_X86 1
#endif

#define POLY_REFLECTED 0x82F63B78u

/* g_table[k][b] is the CRC contribution of byte b followed by k zero bytes,
 * which lets the portable path consume 8 bytes per step (slicing-by-8). */
static uint32_t g_table[8][256];
static pthread_once_t g_table_once = PTHREAD_ONCE_INIT;

static void table_init(void)
{
	for (uint32_t b = 0; b < 256; b++) {
		uint32_t c = b;
		for (int i = 0; i < 8; i++)
			c = (c >> 1) ^ (POLY_REFLECTED & (0u - (c & 1u)));
		g_table[0][b] = c;
	}
	for (uint32_t b = 0; b < 256; b++)
		for (int k = 1; k < 8; k++)
			g_table[k][b] =
				(g_table[k - 1][b] >> 8) ^ g_table[0][g_table[k - 1][b] & 0xff];
}

static uint64_t load_le64(const unsigned char *p)
{
	uint64_t v = 0;
	for (int i = 7; i >= 0; i--)
		v = (v << 8) | p[i];
	return v;
}

uint32_t crc32c_update_sw(uint32_t crc, const void *buf, size_t len)
{
	pthread_once(&g_table_once, table_init);
	const unsigned char *p = buf;
	uint32_t c = ~crc;
	for (; len >= 8; len -= 8, p += 8) {
		uint64_t w = load_le64(p) ^ c;
		c = g_table[7][w & 0xff] ^ g_table[6][(w >> 8) & 0xff] ^
		    g_table[5][(w >> 16) & 0xff] ^ g_table[4][(w >> 24) & 0xff] ^
		    g_table[3][(w >> 32) & 0xff] ^ g_table[2][(w >> 40) & 0xff] ^
		    g_table[1][(w >> 48) & 0xff] ^ g_table[0][w >> 56];
	}
	while (len--)
		c = (c >> 8) ^ g_table[0][(c ^ *p++) & 0xff];
	return ~c;
}

#ifdef CRC32C_X86
/* The crc32 instruction has a latency of 3 cycles but a throughput of 1, so the
 * hardware path runs three independent CRCs over adjacent blocks and joins them:
 * crc(A B) = shift(crc(A), |B|) ^ crc0(B), where shift appends |B| zero bytes
 * (a linear map on the 32-bit state, tabulated below for the two block sizes)
 * and crc0 starts from a zero state.  Same scheme as Mark Adler's crc32c.c. */
#define LONG_BLOCK 8192
#define SHORT_BLOCK 256

static uint32_t g_long_shift[4][256], g_short_shift[4][256];
static pthread_once_t g_shift_once = PTHREAD_ONCE_INIT;

static uint32_t gf2_matrix_times(const uint32_t *mat, uint32_t vec)
{
	uint32_t sum = 0;
	for (; vec; vec >>= 1, mat++)
		if (vec & 1)
			sum ^= *mat;
	return sum;
}

static void gf2_matrix_square(uint32_t *square, const uint32_t *mat)
{
	for (int n = 0; n < 32; n++)
		square[n] = gf2_matrix_times(mat, mat[n]);
}

/* Operator (32x32 bit matrix) that appends len zero bytes; len a power of 2. */
static void zeros_op(uint32_t *even, size_t len)
{
	uint32_t odd[32], row = 1;
	odd[0] = POLY_REFLECTED; /* one zero bit */
	for (int n = 1; n < 32; n++, row <<= 1)
		odd[n] = row;
	gf2_matrix_square(even, odd); /* two zero bits */
	gf2_matrix_square(odd, even); /* four zero bits */
	for (;;) {
		gf2_matrix_square(even, odd); /* first pass: one zero byte */
		len >>= 1;
		if (len == 0)
			return;
		gf2_matrix_square(odd, even);
		len >>= 1;
		if (len == 0)
			break;
	}
	memcpy(even, odd, sizeof odd);
}

static void shift_table(uint32_t table[4][256], size_t len)
{
	uint32_t op[32];
	zeros_op(op, len);
	for (uint32_t n = 0; n < 256; n++)
		for (int k = 0; k < 4; k++)
			table[k][n] = gf2_matrix_times(op, n << (8 * k));
}

static void shift_init(void)
{
	shift_table(g_long_shift, LONG_BLOCK);
	shift_table(g_short_shift, SHORT_BLOCK);
}

static uint32_t shift(uint32_t table[4][256], uint32_t crc)
{
	return table[0][crc & 0xff] ^ table[1][(crc >> 8) & 0xff] ^ table[2][(crc >> 16) & 0xff] ^
	       table[3][crc >> 24];
}

static inline uint64_t load64(const unsigned char *p)
{
	uint64_t w;
	memcpy(&w, p, 8);
	return w;
}

/* Three interleaved CRCs over blocks of `block` bytes while len allows. */
__attribute__((target("sse4.2"))) static uint64_t
hw_blocks(uint64_t c0, const unsigned char **pp, size_t *lenp, size_t block, uint32_t table[4][256])
{
	const unsigned char *p = *pp;
	size_t len = *lenp;
	for (; len >= 3 * block; len -= 3 * block, p += 3 * block) {
		uint64_t c1 = 0, c2 = 0;
		for (size_t i = 0; i < block; i += 8) {
			c0 = _mm_crc32_u64(c0, load64(p + i));
			c1 = _mm_crc32_u64(c1, load64(p + block + i));
			c2 = _mm_crc32_u64(c2, load64(p + 2 * block + i));
		}
		c0 = shift(table, (uint32_t)c0) ^ (uint32_t)c1;
		c0 = shift(table, (uint32_t)c0) ^ (uint32_t)c2;
	}
	*pp = p;
	*lenp = len;
	return c0;
}

__attribute__((target("sse4.2"))) static uint32_t crc32c_hw(uint32_t crc, const void *buf,
							    size_t len)
{
	pthread_once(&g_shift_once, shift_init);
	const unsigned char *p = buf;
	uint64_t c = ~crc;
	for (; len > 0 && ((uintptr_t)p & 7); len--)
		c = _mm_crc32_u8((uint32_t)c, *p++);
	c = hw_blocks(c, &p, &len, LONG_BLOCK, g_long_shift);
	c = hw_blocks(c, &p, &len, SHORT_BLOCK, g_short_shift);
	for (; len >= 8; len -= 8, p += 8)
		c = _mm_crc32_u64(c, load64(p));
	while (len--)
		c = _mm_crc32_u8((uint32_t)c, *p++);
	return ~(uint32_t)c;
}
#endif

uint32_t crc32c_update(uint32_t crc, const void *buf, size_t len)
{
#ifdef CRC32C_X86
	if (__builtin_cpu_supports("sse4.2"))
		return crc32c_hw(crc, buf, len);
#endif
	return crc32c_update_sw(crc, buf, len);
}
