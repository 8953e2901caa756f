/* crc_i.h — CRC32C (Castagnoli), as used by every shlog file. */
#ifndef SHLOG_CRC_I_H
#define SHLOG_CRC_I_H
#include <stddef.h>
#include <stdint.h>

/** CRC32C of buf (initial value and final xor 0xFFFFFFFF). */
uint32_t sl_crc32c(const void *buf, size_t len);
/** Continue a CRC32C: sl_crc32c_update(sl_crc32c(a), b) == crc of a||b. */
uint32_t sl_crc32c_update(uint32_t crc, const void *buf, size_t len);
#endif
