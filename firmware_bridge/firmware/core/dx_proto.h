/* Protocol v1 of the dexumi encoder board (docs/protocol.md): frame = COBS(body) 0x00,
 * body = u8 version | u8 type | u16 payload_len | u32 seq | u32 time_us | payload | u32 crc32c. */
#ifndef DX_PROTO_H
#define DX_PROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define DX_PROTOCOL_VERSION 1u
#define DX_HEADER_SIZE 12u
#define DX_CRC_SIZE 4u
#define DX_FRAME_OVERHEAD (DX_HEADER_SIZE + DX_CRC_SIZE)
#define DX_MAX_PAYLOAD 4096u
#define DX_SAMPLES_HEADER_SIZE 8u
#define DX_INFO_FIXED_SIZE 18u
#define DX_ACK_SIZE 6u
#define DX_PONG_SIZE 16u
#define DX_ERROR_FIXED_SIZE 6u

enum dx_msg_type {
    DX_MSG_SAMPLES = 0x01,
    DX_MSG_INFO = 0x02,
    DX_MSG_ACK = 0x03,
    DX_MSG_PONG = 0x04,
    DX_MSG_ERROR = 0x05,
    DX_CMD_START = 0x10,
    DX_CMD_STOP = 0x11,
    DX_CMD_SET_RATE = 0x12,
    DX_CMD_GET_INFO = 0x13,
    DX_CMD_PING = 0x14,
    DX_CMD_SET_BATCH = 0x15
};

enum dx_ack_status { DX_ACK_OK = 0, DX_ACK_BAD_ARGUMENT = 1, DX_ACK_UNSUPPORTED = 2, DX_ACK_BUSY = 3 };

enum dx_error_code {
    DX_ERR_BUFFER_OVERFLOW = 1, /* detail: samples lost */
    DX_ERR_ADC_FAULT = 2,       /* detail: ADC index */
    DX_ERR_BAD_COMMAND = 3,     /* detail: command type */
    DX_ERR_RATE_UNSUPPORTED = 4, /* detail: requested mHz */
    DX_ERR_FRAME_ERROR = 5      /* detail: host frames rejected so far */
};

/* INFO's optional channel declaration: per channel u8 kind, u8 unit, i8 scale_exp10 (docs/protocol.md). */
#define DX_CHANNEL_DECL_SIZE 3u
enum {
    DX_KIND_UNSPECIFIED = 0, DX_KIND_ANGLE = 1, DX_KIND_FORCE = 2, DX_KIND_PRESSURE = 3,
    DX_KIND_TEMPERATURE = 4, DX_KIND_REFERENCE = 5, DX_KIND_VOLTAGE = 6
};
enum {
    DX_UNIT_COUNTS = 0, DX_UNIT_RADIAN = 1, DX_UNIT_DEGREE = 2, DX_UNIT_NEWTON = 3, DX_UNIT_PASCAL = 4,
    DX_UNIT_CELSIUS = 5, DX_UNIT_VOLT = 6
};
#define DX_SCALE_NONLINEAR 127 /* scale_exp10: counts are not a power of ten of the unit */

/* What GET_INFO reports. Strings are NUL-terminated; at most 255 bytes of each are sent. */
typedef struct {
    uint8_t fw_major, fw_minor, fw_patch;
    uint8_t channels, resolution_bits, sample_width;
    uint16_t max_batch;
    uint32_t rate_mhz, max_rate_mhz;
    const char *device_id;
    const char *model;
    const uint8_t *channel_decl; /* NULL: no declaration; else DX_CHANNEL_DECL_SIZE bytes per channel */
} dx_info_t;

/* A decoded, checked frame (host commands); payload points into the receive buffer. */
typedef struct {
    uint8_t type;
    uint32_t seq;
    uint32_t time_us;
    const uint8_t *payload;
    uint16_t payload_len;
} dx_frame_t;

/* Little-endian access. */
void dx_put_u16(uint8_t *p, uint16_t v);
void dx_put_u32(uint8_t *p, uint32_t v);
uint16_t dx_get_u16(const uint8_t *p);
uint32_t dx_get_u32(const uint8_t *p);
void dx_copy(uint8_t *dst, const uint8_t *src, size_t n); /* forward copy, memmove-safe for dst <= src */

/* ---- building a frame in place ----------------------------------------------------------------------
 * A wire buffer of `cap` bytes holds the body at offset dx_frame_body_offset(cap) and is COBS-encoded
 * in place to the front of the buffer: write the payload at dx_frame_payload(wire, cap), then seal. */
size_t dx_frame_body_offset(size_t cap);
size_t dx_frame_max_payload(size_t cap);
uint8_t *dx_frame_payload(uint8_t *wire, size_t cap);
/* Writes header and CRC, COBS-encodes, appends the 0x00 delimiter. Returns the wire length, or 0 if
 * the payload does not fit. */
size_t dx_frame_seal(uint8_t *wire, size_t cap, uint8_t type, uint32_t seq, uint32_t time_us,
                     size_t payload_len);
/* Convenience: copy a payload in (it must not overlap `wire`) and seal. */
size_t dx_frame_encode(uint8_t *wire, size_t cap, uint8_t type, uint32_t seq, uint32_t time_us,
                       const uint8_t *payload, size_t payload_len);

/* ---- payloads: each writes at p and returns its length ---------------------------------------------- */
size_t dx_payload_samples_header(uint8_t *p, uint32_t first_index, uint16_t count, uint8_t channels,
                                 uint8_t width);
/* One signed value of `width` bytes (2, 3, 4), two's complement truncated like the Python encoder. */
void dx_put_value(uint8_t *p, int32_t value, uint8_t width);
/* Whole SAMPLES payload from arrays: t_us[count], values[count * channels] sample-major. */
size_t dx_payload_samples(uint8_t *p, uint32_t first_index, uint16_t count, uint8_t channels, uint8_t width,
                          const uint32_t *t_us, const int32_t *values);
size_t dx_payload_info(uint8_t *p, const dx_info_t *info);
size_t dx_payload_ack(uint8_t *p, uint32_t command_seq, uint8_t command, uint8_t status);
size_t dx_payload_pong(uint8_t *p, uint32_t command_seq, const uint8_t token[8], uint32_t device_rx_us);
size_t dx_payload_error(uint8_t *p, uint16_t code, uint32_t detail, const char *text);

/* Largest payloads the device sends (for sizing buffers). */
#define DX_SAMPLES_PAYLOAD_MAX(batch, channels, width) \
    (DX_SAMPLES_HEADER_SIZE + (batch) * 4u + (batch) * (channels) * (width))
#define DX_INFO_PAYLOAD_MAX(id_len, model_len) (DX_INFO_FIXED_SIZE + 2u + (id_len) + (model_len))
#define DX_INFO_DECL_MAX(channels) (1u + DX_CHANNEL_DECL_SIZE * (channels))
/* A wire buffer for payloads up to n bytes (the body offset is 1 + cap/254, see dx_frame_body_offset). */
#define DX_WIRE_CAP(n) ((n) + DX_FRAME_OVERHEAD + 2u * (((n) + DX_FRAME_OVERHEAD) / 253u + 2u) + 1u)

/* ---- receiving ------------------------------------------------------------------------------------------
 * Check one COBS-decoded body (version, length, CRC). */
bool dx_parse_body(const uint8_t *body, size_t len, dx_frame_t *out);

/* Incremental receiver: bytes in, checked frames out. Decodes in place in `buf`. */
typedef struct {
    uint8_t *buf;
    size_t cap;
    size_t len;
    bool discarding; /* an over-long chunk: skip to the next delimiter */
} dx_rx_t;

void dx_rx_init(dx_rx_t *rx, uint8_t *buf, size_t cap);
/* Feed one byte. Returns 1 when a valid frame completed (filled into *out, valid until the next call),
 * -1 when a non-empty chunk was rejected (bad COBS, length, version, CRC or too long), 0 otherwise. */
int dx_rx_byte(dx_rx_t *rx, uint8_t byte, dx_frame_t *out);

#endif
