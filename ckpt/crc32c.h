/* crc32c.h — CRC-32C (Castagnoli, iSCSI/ext4 polynomial 0x1EDC6F41, reflected).
 *
 * Checkpoint files carry a CRC-32C of their HDF5 image so that a torn, truncated
 * or bit-flipped file is rejected before the HDF5 parser sees a single byte of
 * it.  CRC-32C detects every single-bit error and every burst up to 32 bits,
 * and x86-64 computes it in hardware (SSE4.2), so verifying a 22 MB checkpoint
 * costs a few milliseconds.
 *
 * Calling sequence: start from 0 and feed the bytes in one or more pieces;
 * the result is the standard CRC-32C (init and final XOR 0xFFFFFFFF are done
 * inside, so pieces chain):
 *
 *     uint32_t c = crc32c_update(0, "1234", 4);
 *     c = crc32c_update(c, "56789", 5);      // == 0xE3069283, the check value
 *
 * crc32c_update picks the SSE4.2 instruction when the CPU has it (checked at
 * run time) and otherwise a portable slicing-by-8 table method; both give the
 * same values, which the tests compare.  Thread-safe.
 */
#ifndef CT_CRC32C_H
#define CT_CRC32C_H

#include <stddef.h>
#include <stdint.h>

uint32_t crc32c_update(uint32_t crc, const void *buf, size_t len);
/* The portable path alone (tests compare it with the hardware path). */
uint32_t crc32c_update_sw(uint32_t crc, const void *buf, size_t len);

#endif
