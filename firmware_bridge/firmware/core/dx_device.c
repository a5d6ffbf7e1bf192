#include "dx_device.h"

#include "dx_board.h"

#define DX_US_PER_KHZ_MHZ 1000000000u /* 1 s in us times 1000 (rates are in millihertz) */
#define DX_FRAME_RATE_MHZ 500000u     /* automatic batching aims at 500 frames/s */

static const char *const dx_error_text[] = {"", "samples lost", "adc fault", "bad command", "rate unsupported",
                                            "frame error"};

static void dx_copy_string(char *dst, const char *src)
{
    size_t n = 0;
    if (src != NULL) {
        while (n < DX_STRING_MAX && src[n] != '\0') {
            dst[n] = src[n];
            n++;
        }
    }
    dst[n] = '\0';
}

static uint16_t dx_auto_batch(const dx_device_t *d)
{
    uint32_t b = (d->rate_mhz + DX_FRAME_RATE_MHZ - 1u) / DX_FRAME_RATE_MHZ;
    if (b < 1u) {
        b = 1u;
    }
    if (b > d->cfg.max_batch) {
        b = d->cfg.max_batch;
    }
    return (uint16_t)b;
}

static void dx_set_rate(dx_device_t *d, uint32_t rate_mhz)
{
    uint32_t last_due = d->next_due - d->period_us;
    d->rate_mhz = rate_mhz;
    d->period_us = DX_US_PER_KHZ_MHZ / rate_mhz;
    d->period_rem = DX_US_PER_KHZ_MHZ % rate_mhz;
    d->period_acc = 0;
    if (d->running) {
        d->next_due = last_due + d->period_us; /* keep the phase of the last sample */
    }
    if (d->batch_auto) {
        d->batch = dx_auto_batch(d);
    }
}

void dx_device_init(dx_device_t *d, const dx_device_config_t *cfg)
{
    uint8_t *p = (uint8_t *)d;
    size_t i;
    for (i = 0; i < sizeof(*d); i++) {
        p[i] = 0u;
    }
    d->cfg = *cfg;
    if (d->cfg.channels == 0u || d->cfg.channels > DX_MAX_CHANNELS) {
        d->cfg.channels = DX_MAX_CHANNELS;
    }
    if (d->cfg.sample_width < 2u || d->cfg.sample_width > DX_MAX_WIDTH) {
        d->cfg.sample_width = DX_MAX_WIDTH;
    }
    if (d->cfg.max_batch == 0u || d->cfg.max_batch > DX_MAX_BATCH) {
        d->cfg.max_batch = DX_MAX_BATCH;
    }
    if (d->cfg.min_rate_mhz == 0u) {
        d->cfg.min_rate_mhz = 1u;
    }
    if (d->cfg.max_rate_mhz > 0x7FFFFFFFu) {
        d->cfg.max_rate_mhz = 0x7FFFFFFFu; /* keeps the period accumulator within 32 bits */
    }
    dx_copy_string(d->device_id, cfg->device_id);
    dx_copy_string(d->model, cfg->model);
    d->cfg.device_id = d->device_id;
    d->cfg.model = d->model;
    dx_ring_init(&d->ring);
    dx_rx_init(&d->rx, d->rx_buf, sizeof(d->rx_buf));
    d->batch_auto = true;
    dx_set_rate(d, (cfg->rate_mhz >= d->cfg.min_rate_mhz && cfg->rate_mhz <= d->cfg.max_rate_mhz)
                       ? cfg->rate_mhz
                       : d->cfg.max_rate_mhz);
}

/* ------------------------------------------------------------------------------------------- commands */

static dx_response_t *dx_push_response(dx_device_t *d, uint8_t kind, const dx_frame_t *f)
{
    dx_response_t *r;
    uint8_t k;
    if (d->resp_count >= DX_RESPONSE_QUEUE) {
        return NULL; /* cannot happen: bytes are read only while two slots are free */
    }
    r = &d->resp[(uint8_t)((d->resp_head + d->resp_count) % DX_RESPONSE_QUEUE)];
    d->resp_count++;
    r->kind = kind;
    r->command = f->type;
    r->command_seq = f->seq;
    r->status = DX_ACK_OK;
    r->code = 0;
    r->detail = 0;
    for (k = 0; k < 8u; k++) {
        r->token[k] = 0u;
    }
    return r;
}

static void dx_ack(dx_device_t *d, const dx_frame_t *f, uint8_t status)
{
    dx_response_t *r = dx_push_response(d, DX_MSG_ACK, f);
    if (r != NULL) {
        r->status = status;
    }
}

static void dx_handle_command(dx_device_t *d, const dx_frame_t *f, uint32_t rx_us)
{
    uint8_t status = DX_ACK_OK;
    uint32_t arg;
    dx_response_t *r;
    switch (f->type) {
    case DX_CMD_START:
        if (f->payload_len != 0u) {
            status = DX_ACK_BAD_ARGUMENT;
        } else if (!d->running) {
            d->running = true;
            d->next_due = board_time_us();
            d->period_acc = 0;
        }
        dx_ack(d, f, status);
        break;
    case DX_CMD_STOP:
        if (f->payload_len != 0u) {
            status = DX_ACK_BAD_ARGUMENT;
        } else {
            d->running = false;
        }
        dx_ack(d, f, status);
        break;
    case DX_CMD_SET_RATE:
        arg = f->payload_len == 4u ? dx_get_u32(f->payload) : 0u;
        if (f->payload_len != 4u || arg < d->cfg.min_rate_mhz || arg > d->cfg.max_rate_mhz) {
            status = DX_ACK_BAD_ARGUMENT;
        } else {
            dx_set_rate(d, arg);
        }
        dx_ack(d, f, status);
        break;
    case DX_CMD_SET_BATCH:
        arg = f->payload_len == 2u ? dx_get_u16(f->payload) : 0u;
        if (f->payload_len != 2u || arg < 1u || arg > d->cfg.max_batch) {
            status = DX_ACK_BAD_ARGUMENT;
        } else {
            d->batch = (uint16_t)arg;
            d->batch_auto = false;
        }
        dx_ack(d, f, status);
        break;
    case DX_CMD_GET_INFO:
        if (f->payload_len != 0u) {
            dx_ack(d, f, DX_ACK_BAD_ARGUMENT);
        } else {
            dx_ack(d, f, DX_ACK_OK);
            r = dx_push_response(d, DX_MSG_INFO, f);
            if (r != NULL) {
                r->detail = d->rate_mhz; /* INFO tells the rate of when it was asked for */
            }
        }
        break;
    case DX_CMD_PING:
        if (f->payload_len != 8u) {
            dx_ack(d, f, DX_ACK_BAD_ARGUMENT);
        } else {
            r = dx_push_response(d, DX_MSG_PONG, f);
            if (r != NULL) {
                dx_copy(r->token, f->payload, 8u);
                r->detail = rx_us;
            }
        }
        break;
    default:
        dx_ack(d, f, DX_ACK_UNSUPPORTED);
        r = dx_push_response(d, DX_MSG_ERROR, f);
        if (r != NULL) {
            r->code = DX_ERR_BAD_COMMAND;
            r->detail = f->type;
        }
        break;
    }
}

void dx_device_rx_byte(dx_device_t *d, uint8_t byte)
{
    dx_frame_t f;
    int r = dx_rx_byte(&d->rx, byte, &f);
    if (r > 0) {
        dx_handle_command(d, &f, board_time_us());
    } else if (r < 0) {
        d->frame_errors++;
        d->frame_error_pending = true;
    }
}

static void dx_service_rx(dx_device_t *d)
{
    uint32_t budget = 64u; /* bytes per poll: sampling must not starve behind a flood of input */
    uint8_t byte;
    while (budget-- > 0u && d->resp_count + 2u <= DX_RESPONSE_QUEUE && board_uart_read(&byte, 1u) == 1u) {
        dx_device_rx_byte(d, byte);
    }
}

/* ------------------------------------------------------------------------------------------ scheduler */

static void dx_advance_due(dx_device_t *d)
{
    d->next_due += d->period_us;
    d->period_acc += d->period_rem;
    if (d->period_acc >= d->rate_mhz) {
        d->period_acc -= d->rate_mhz;
        d->next_due += 1u;
    }
}

static void dx_take_sample(dx_device_t *d)
{
    uint32_t index = d->sample_index++;
    dx_sample_t *s = dx_ring_claim(&d->ring);
    int fault;
    if (s == NULL) {
        d->lost++;
        d->lost_total++;
        return;
    }
    s->index = index;
    s->t_us = board_time_us();
    fault = board_read_adc(index, s->values);
    if (fault != 0) {
        d->adc_fault = (uint8_t)fault;
        d->lost++;
        d->lost_total++;
        return;
    }
    dx_ring_commit(&d->ring);
}

static void dx_service_scheduler(dx_device_t *d)
{
    uint32_t n;
    for (n = 0; d->running && n < DX_CATCHUP_PER_POLL; n++) {
        uint32_t late = board_time_us() - d->next_due;
        if (late >= 0x80000000u) {
            return; /* not due yet (the difference is negative) */
        }
        if (late >= DX_CATCHUP_US && late >= 2u * d->period_us) {
            /* stalled: skip the ticks that passed, count them as lost, restart the grid now */
            uint32_t missed = late / d->period_us;
            d->sample_index += missed;
            d->lost += missed;
            d->lost_total += missed;
            d->next_due += late;
            d->period_acc = 0;
        }
        dx_take_sample(d);
        dx_advance_due(d);
    }
}

uint32_t dx_device_idle_us(const dx_device_t *d)
{
    uint32_t until;
    if (d->tx_pos < d->tx_len || d->resp_count > 0u || d->lost > 0u || d->frame_error_pending ||
        d->adc_fault != 0u) {
        return 0;
    }
    if (dx_ring_count(&d->ring) >= d->batch || (!d->running && dx_ring_count(&d->ring) > 0u)) {
        return 0;
    }
    if (!d->running) {
        return 0xFFFFFFFFu;
    }
    until = d->next_due - board_time_us();
    return until >= 0x80000000u ? 0u : until;
}

/* ---------------------------------------------------------------------------------------------- frames */

static void dx_seal(dx_device_t *d, uint8_t type, size_t payload_len)
{
    d->tx_len = dx_frame_seal(d->tx, sizeof(d->tx), type, d->seq, board_time_us(), payload_len);
    d->tx_pos = 0;
    if (d->tx_len > 0u) {
        d->seq++;
        d->frames_sent++;
    }
}

static void dx_build_error(dx_device_t *d, uint16_t code, uint32_t detail)
{
    uint8_t *p = dx_frame_payload(d->tx, sizeof(d->tx));
    dx_seal(d, DX_MSG_ERROR, dx_payload_error(p, code, detail, dx_error_text[code]));
}

static bool dx_build_response(dx_device_t *d)
{
    uint8_t *p = dx_frame_payload(d->tx, sizeof(d->tx));
    const dx_response_t *r;
    dx_info_t info;
    if (d->resp_count == 0u) {
        return false;
    }
    r = &d->resp[d->resp_head];
    d->resp_head = (uint8_t)((d->resp_head + 1u) % DX_RESPONSE_QUEUE);
    d->resp_count--;
    switch (r->kind) {
    case DX_MSG_INFO:
        info.fw_major = DX_FW_MAJOR;
        info.fw_minor = DX_FW_MINOR;
        info.fw_patch = DX_FW_PATCH;
        info.channels = d->cfg.channels;
        info.resolution_bits = d->cfg.resolution_bits;
        info.sample_width = d->cfg.sample_width;
        info.max_batch = d->cfg.max_batch;
        info.rate_mhz = r->detail;
        info.max_rate_mhz = d->cfg.max_rate_mhz;
        info.device_id = d->device_id;
        info.model = d->model;
        info.channel_decl = d->cfg.channel_decl;
        dx_seal(d, DX_MSG_INFO, dx_payload_info(p, &info));
        break;
    case DX_MSG_PONG:
        dx_seal(d, DX_MSG_PONG, dx_payload_pong(p, r->command_seq, r->token, r->detail));
        break;
    case DX_MSG_ERROR:
        dx_build_error(d, r->code, r->detail);
        break;
    default:
        dx_seal(d, DX_MSG_ACK, dx_payload_ack(p, r->command_seq, r->command, r->status));
        break;
    }
    return true;
}

static bool dx_build_samples(dx_device_t *d)
{
    uint32_t count = dx_ring_count(&d->ring);
    const dx_sample_t *first;
    uint32_t run = 1;
    uint32_t k;
    uint8_t ch;
    uint8_t *p;
    size_t off;
    if (count == 0u) {
        return false;
    }
    first = dx_ring_peek(&d->ring, 0);
    while (run < count && run < d->batch && dx_ring_peek(&d->ring, run)->index == first->index + run) {
        run++;
    }
    if (run < d->batch && run == count && d->running) {
        return false; /* wait for a full batch */
    }
    p = dx_frame_payload(d->tx, sizeof(d->tx));
    off = dx_payload_samples_header(p, first->index, (uint16_t)run, d->cfg.channels, d->cfg.sample_width);
    for (k = 0; k < run; k++) {
        dx_put_u32(p + off, dx_ring_peek(&d->ring, k)->t_us);
        off += 4u;
    }
    for (k = 0; k < run; k++) {
        const dx_sample_t *s = dx_ring_peek(&d->ring, k);
        for (ch = 0; ch < d->cfg.channels; ch++) {
            dx_put_value(p + off, s->values[ch], d->cfg.sample_width);
            off += d->cfg.sample_width;
        }
    }
    dx_ring_drop(&d->ring, run);
    d->samples_sent += run;
    dx_seal(d, DX_MSG_SAMPLES, off);
    return true;
}

static void dx_build_next(dx_device_t *d)
{
    uint32_t detail;
    if (dx_build_response(d)) {
        return;
    }
    if (d->lost > 0u) {
        detail = d->lost;
        d->lost = 0;
        dx_build_error(d, DX_ERR_BUFFER_OVERFLOW, detail);
        return;
    }
    if (d->frame_error_pending) {
        d->frame_error_pending = false;
        dx_build_error(d, DX_ERR_FRAME_ERROR, d->frame_errors);
        return;
    }
    if (d->adc_fault != 0u) {
        detail = (uint32_t)d->adc_fault - 1u;
        d->adc_fault = 0;
        dx_build_error(d, DX_ERR_ADC_FAULT, detail);
        return;
    }
    (void)dx_build_samples(d);
}

static void dx_service_tx(dx_device_t *d)
{
    uint32_t frames;
    for (frames = 0; frames < 4u; frames++) {
        if (d->tx_pos >= d->tx_len) {
            d->tx_pos = d->tx_len = 0;
            dx_build_next(d);
            if (d->tx_len == 0u) {
                return;
            }
        }
        while (d->tx_pos < d->tx_len) {
            size_t w = board_uart_write(d->tx + d->tx_pos, d->tx_len - d->tx_pos);
            if (w == 0u) {
                return; /* the link is full: try again at the next poll */
            }
            d->tx_pos += w;
        }
    }
}

void dx_device_poll(dx_device_t *d)
{
    dx_service_rx(d);
    dx_service_scheduler(d);
    dx_service_tx(d);
}
