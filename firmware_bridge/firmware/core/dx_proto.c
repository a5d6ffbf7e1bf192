#include "dx_proto.h"

#include "dx_cobs.h"
#include "dx_crc32c.h"

void dx_put_u16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}

void dx_put_u32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

uint16_t dx_get_u16(const uint8_t *p)
{
    return (uint16_t)(p[0] | ((uint16_t)p[1] << 8));
}

uint32_t dx_get_u32(const uint8_t *p)
{
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}

void dx_copy(uint8_t *dst, const uint8_t *src, size_t n)
{
    size_t i;
    for (i = 0; i < n; i++) {
        dst[i] = src[i];
    }
}

size_t dx_frame_body_offset(size_t cap)
{
    return 1u + cap / 254u;
}

size_t dx_frame_max_payload(size_t cap)
{
    size_t off = dx_frame_body_offset(cap);
    size_t room;
    /* the body sits at off; its encoding (<= body + off) plus the delimiter must fit in cap */
    if (cap < off + DX_FRAME_OVERHEAD + 1u) {
        return 0;
    }
    room = cap - off - DX_FRAME_OVERHEAD - 1u;
    return room > DX_MAX_PAYLOAD ? DX_MAX_PAYLOAD : room;
}

uint8_t *dx_frame_payload(uint8_t *wire, size_t cap)
{
    return wire + dx_frame_body_offset(cap) + DX_HEADER_SIZE;
}

size_t dx_frame_seal(uint8_t *wire, size_t cap, uint8_t type, uint32_t seq, uint32_t time_us,
                     size_t payload_len)
{
    uint8_t *body = wire + dx_frame_body_offset(cap);
    size_t body_len = DX_HEADER_SIZE + payload_len;
    size_t n;
    if (payload_len > dx_frame_max_payload(cap)) {
        return 0;
    }
    body[0] = DX_PROTOCOL_VERSION;
    body[1] = type;
    dx_put_u16(body + 2, (uint16_t)payload_len);
    dx_put_u32(body + 4, seq);
    dx_put_u32(body + 8, time_us);
    dx_put_u32(body + body_len, dx_crc32c(body, body_len));
    n = dx_cobs_encode(body, body_len + DX_CRC_SIZE, wire);
    wire[n] = 0u;
    return n + 1u;
}

size_t dx_frame_encode(uint8_t *wire, size_t cap, uint8_t type, uint32_t seq, uint32_t time_us,
                       const uint8_t *payload, size_t payload_len)
{
    if (payload_len > dx_frame_max_payload(cap)) {
        return 0;
    }
    dx_copy(dx_frame_payload(wire, cap), payload, payload_len);
    return dx_frame_seal(wire, cap, type, seq, time_us, payload_len);
}

size_t dx_payload_samples_header(uint8_t *p, uint32_t first_index, uint16_t count, uint8_t channels,
                                 uint8_t width)
{
    dx_put_u32(p, first_index);
    dx_put_u16(p + 4, count);
    p[6] = channels;
    p[7] = width;
    return DX_SAMPLES_HEADER_SIZE;
}

void dx_put_value(uint8_t *p, int32_t value, uint8_t width)
{
    uint32_t u = (uint32_t)value;
    uint8_t k;
    for (k = 0; k < width; k++) {
        p[k] = (uint8_t)(u >> (8u * k));
    }
}

size_t dx_payload_samples(uint8_t *p, uint32_t first_index, uint16_t count, uint8_t channels, uint8_t width,
                          const uint32_t *t_us, const int32_t *values)
{
    size_t off = dx_payload_samples_header(p, first_index, count, channels, width);
    size_t i;
    size_t n = (size_t)count * channels;
    for (i = 0; i < count; i++) {
        dx_put_u32(p + off, t_us[i]);
        off += 4u;
    }
    for (i = 0; i < n; i++) {
        dx_put_value(p + off, values[i], width);
        off += width;
    }
    return off;
}

static size_t dx_put_string(uint8_t *p, const char *s)
{
    size_t n = 0;
    if (s != NULL) {
        while (n < 255u && s[n] != '\0') {
            p[1u + n] = (uint8_t)s[n];
            n++;
        }
    }
    p[0] = (uint8_t)n;
    return 1u + n;
}

size_t dx_payload_info(uint8_t *p, const dx_info_t *info)
{
    size_t off;
    p[0] = info->fw_major;
    p[1] = info->fw_minor;
    p[2] = info->fw_patch;
    p[3] = info->channels;
    p[4] = info->resolution_bits;
    p[5] = info->sample_width;
    dx_put_u16(p + 6, info->max_batch);
    dx_put_u32(p + 8, info->rate_mhz);
    dx_put_u32(p + 12, info->max_rate_mhz);
    off = 16u;
    off += dx_put_string(p + off, info->device_id);
    off += dx_put_string(p + off, info->model);
    if (info->channel_decl != NULL) {
        size_t i;
        p[off++] = info->channels;
        for (i = 0; i < DX_CHANNEL_DECL_SIZE * (size_t)info->channels; i++) {
            p[off++] = info->channel_decl[i];
        }
    }
    return off;
}

size_t dx_payload_ack(uint8_t *p, uint32_t command_seq, uint8_t command, uint8_t status)
{
    dx_put_u32(p, command_seq);
    p[4] = command;
    p[5] = status;
    return DX_ACK_SIZE;
}

size_t dx_payload_pong(uint8_t *p, uint32_t command_seq, const uint8_t token[8], uint32_t device_rx_us)
{
    dx_put_u32(p, command_seq);
    dx_copy(p + 4, token, 8u);
    dx_put_u32(p + 12, device_rx_us);
    return DX_PONG_SIZE;
}

size_t dx_payload_error(uint8_t *p, uint16_t code, uint32_t detail, const char *text)
{
    dx_put_u16(p, code);
    dx_put_u32(p + 2, detail);
    return DX_ERROR_FIXED_SIZE + dx_put_string(p + DX_ERROR_FIXED_SIZE, text);
}

bool dx_parse_body(const uint8_t *body, size_t len, dx_frame_t *out)
{
    size_t payload_len;
    if (len < DX_FRAME_OVERHEAD || body[0] != DX_PROTOCOL_VERSION) {
        return false;
    }
    payload_len = dx_get_u16(body + 2);
    if (payload_len != len - DX_FRAME_OVERHEAD || payload_len > DX_MAX_PAYLOAD) {
        return false;
    }
    if (dx_get_u32(body + len - DX_CRC_SIZE) != dx_crc32c(body, len - DX_CRC_SIZE)) {
        return false;
    }
    out->type = body[1];
    out->seq = dx_get_u32(body + 4);
    out->time_us = dx_get_u32(body + 8);
    out->payload = body + DX_HEADER_SIZE;
    out->payload_len = (uint16_t)payload_len;
    return true;
}

void dx_rx_init(dx_rx_t *rx, uint8_t *buf, size_t cap)
{
    rx->buf = buf;
    rx->cap = cap;
    rx->len = 0;
    rx->discarding = false;
}

int dx_rx_byte(dx_rx_t *rx, uint8_t byte, dx_frame_t *out)
{
    size_t body_len;
    if (byte != 0u) {
        if (rx->len < rx->cap) {
            rx->buf[rx->len++] = byte;
        } else {
            rx->discarding = true;
        }
        return 0;
    }
    if (rx->discarding) {
        rx->discarding = false;
        rx->len = 0;
        return -1;
    }
    if (rx->len == 0u) {
        return 0; /* an empty chunk (two delimiters in a row) is no frame and no error */
    }
    body_len = 0;
    if (!dx_cobs_decode(rx->buf, rx->len, rx->buf, rx->cap, &body_len) ||
        !dx_parse_body(rx->buf, body_len, out)) {
        rx->len = 0;
        return -1;
    }
    rx->len = 0;
    return 1;
}
