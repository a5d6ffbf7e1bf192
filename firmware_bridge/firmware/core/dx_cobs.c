#include "dx_cobs.h"

size_t dx_cobs_encode(const uint8_t *src, size_t n, uint8_t *dst)
{
    size_t code_pos = 0; /* where the current block's code byte goes */
    size_t out = 1;
    uint8_t code = 1;
    size_t i;
    for (i = 0; i < n; i++) {
        uint8_t b = src[i];
        if (b == 0u) {
            dst[code_pos] = code;
            code_pos = out++;
            code = 1;
        } else {
            dst[out++] = b;
            code++;
            if (code == 0xFFu) {
                dst[code_pos] = code;
                if (i + 1u == n) {
                    return out; /* a full block ends the input: no extra code byte */
                }
                code_pos = out++;
                code = 1;
            }
        }
    }
    dst[code_pos] = code;
    return out;
}

bool dx_cobs_decode(const uint8_t *src, size_t n, uint8_t *dst, size_t dst_cap, size_t *out_len)
{
    size_t in = 0;
    size_t out = 0;
    while (in < n) {
        uint8_t code = src[in++];
        size_t k;
        if (code == 0u || in + (size_t)(code - 1u) > n || out + (size_t)(code - 1u) > dst_cap) {
            return false;
        }
        for (k = 1; k < code; k++) {
            uint8_t b = src[in++];
            if (b == 0u) {
                return false;
            }
            dst[out++] = b;
        }
        if (code != 0xFFu && in < n) {
            if (out >= dst_cap) {
                return false;
            }
            dst[out++] = 0u;
        }
    }
    *out_len = out;
    return true;
}
