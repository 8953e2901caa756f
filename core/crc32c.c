/*
 * crc32c.c — CRC32C (Castagnoli), with the SSE4.2 instruction when the
 * processor has it and a slice-by-8 table otherwise.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <pthread.h>

#include "crc_i.h"
#include "shlog.h"

#define POLY_REFLECTED 0x82F63B78u

static uint32_t table[8][256];
static int have_hw;
static pthread_once_t init_once = PTHREAD_ONCE_INIT;

/* Build the slice-by-8 tables and look for SSE4.2; runs once. */
static void crc_init(void)
{
	for (uint32_t i = 0; i < 256; i++) {
		uint32_t c = i;
		for (int k = 0; k < 8; k++)
			c = (c >> 1) ^ ((c & 1) ? POLY_REFLECTED : 0);
		table[0][i] = c;
	}
	for (uint32_t i = 0; i < 256; i++)
		for (int t = 1; t < 8; t++)
			table[t][i] = (table[t - 1][i] >> 8) ^
				      table[0][table[t - 1][i] & 0xff];
#if defined(__x86_64__)
	__builtin_cpu_init();
	have_hw = __builtin_cpu_supports("sse4.2");
#endif
}

/* Software CRC over buf, slice-by-8. */
static uint32_t crc_sw(uint32_t crc, const unsigned char *p, size_t len)
{
	while (len >= 8) {
		uint64_t v;
		memcpy(&v, p, 8);
		v ^= crc;
		crc = table[7][v & 0xff] ^ table[6][(v >> 8) & 0xff] ^
		      table[5][(v >> 16) & 0xff] ^ table[4][(v >> 24) & 0xff] ^
		      table[3][(v >> 32) & 0xff] ^ table[2][(v >> 40) & 0xff] ^
		      table[1][(v >> 48) & 0xff] ^ table[0][v >> 56];
		p += 8;
		len -= 8;
	}
	while (len--)
		crc = (crc >> 8) ^ table[0][(crc ^ *p++) & 0xff];
	return crc;
}

#if defined(__x86_64__)
/* Hardware CRC over buf with the crc32 instruction. */
__attribute__((target("sse4.2")))
static uint32_t crc_hw(uint32_t crc, const unsigned char *p, size_t len)
{
	uint64_t c = crc;

	while (len >= 8) {
		uint64_t v;
		memcpy(&v, p, 8);
		c = __builtin_ia32_crc32di(c, v);
		p += 8;
		len -= 8;
	}
	while (len--)
		c = __builtin_ia32_crc32qi((uint32_t)c, *p++);
	return (uint32_t)c;
}
#endif

uint32_t sl_crc32c_update(uint32_t crc, const void *buf, size_t len)
{
	pthread_once(&init_once, crc_init);
	crc = ~crc;
#if defined(__x86_64__)
	if (have_hw)
		return ~crc_hw(crc, buf, len);
#endif
	return ~crc_sw(crc, buf, len);
}

uint32_t sl_crc32c(const void *buf, size_t len)
{
	return sl_crc32c_update(0, buf, len);
}

/* shlog_crc32c: sl_crc32c for a caller outside the library (shlog.h). */
uint32_t shlog_crc32c(const void *buf, size_t len)
{
	return sl_crc32c(buf, len);
}
