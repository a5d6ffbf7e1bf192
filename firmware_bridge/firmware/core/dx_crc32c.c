#include "dx_crc32c.h"

/* Half-byte table: 64 bytes of flash, two lookups per byte. */
static const uint32_t dx_crc_nibble[16] = {
    0x00000000u, 0x105EC76Fu, 0x20BD8EDEu, 0x30E349B1u, 0x417B1DBCu, 0x5125DAD3u, 0x61C69362u, 0x7198540Du,
    0x82F63B78u, 0x92A8FC17u, 0xA24BB5A6u, 0xB21572C9u, 0xC38D26C4u, 0xD3D3E1ABu, 0xE330A81Au, 0xF36E6F75u,
};

uint32_t dx_crc32c_update(uint32_t state, const uint8_t *data, size_t len)
{
    size_t i;
    for (i = 0; i < len; i++) {
        state ^= data[i];
        state = (state >> 4) ^ dx_crc_nibble[state & 0x0Fu];
        state = (state >> 4) ^ dx_crc_nibble[state & 0x0Fu];
    }
    return state;
}

uint32_t dx_crc32c(const uint8_t *data, size_t len)
{
    return ~dx_crc32c_update(DX_CRC32C_INIT, data, len);
}
