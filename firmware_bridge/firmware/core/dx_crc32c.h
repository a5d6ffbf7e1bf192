/* CRC-32C (Castagnoli): reflected polynomial 0x82F63B78, init 0xFFFFFFFF, xorout 0xFFFFFFFF. */
#ifndef DX_CRC32C_H
#define DX_CRC32C_H

#include <stddef.h>
#include <stdint.h>

#define DX_CRC32C_INIT 0xFFFFFFFFu

/* Feed bytes into a running CRC register (start from DX_CRC32C_INIT, finish with ~state). */
uint32_t dx_crc32c_update(uint32_t state, const uint8_t *data, size_t len);

/* The CRC-32C of a whole buffer: dx_crc32c("123456789", 9) == 0xE3069283. */
uint32_t dx_crc32c(const uint8_t *data, size_t len);

#endif
