/* Consistent Overhead Byte Stuffing, the variant of the Python `cobs` package: a block of 254 non-zero
 * bytes ending the input gets no trailing 0x01 code byte. No delimiter is written or expected here. */
#ifndef DX_COBS_H
#define DX_COBS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Largest encoding of n bytes. */
#define DX_COBS_MAX_ENCODED(n) ((n) + (n) / 254u + 1u)

/* Encode n bytes of src into dst; returns the encoded length (never 0x00 inside).
 * src and dst may overlap when dst <= src and src - dst >= 1 + n / 254 (in-place encoding with the
 * input stored that far ahead): each input byte is read before its position can be written. */
size_t dx_cobs_encode(const uint8_t *src, size_t n, uint8_t *dst);

/* Decode n encoded bytes; dst may equal src (decoding never grows). Returns false if the input holds
 * a 0x00, a code byte points past the end, or the output would exceed dst_cap. */
bool dx_cobs_decode(const uint8_t *src, size_t n, uint8_t *dst, size_t dst_cap, size_t *out_len);

#endif
