/* The device: fixed-rate sample scheduler, ring buffer, batching into SAMPLES frames, command parser
 * with acknowledgements, error reporting. One static instance per board; everything non-blocking.
 *
 * The board's main loop is
 *     dx_device_init(&dev, &config);
 *     for (;;) { dx_device_poll(&dev); }
 * and the core calls the board through dx_board.h. */
#ifndef DX_DEVICE_H
#define DX_DEVICE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dx_config.h"
#include "dx_proto.h"
#include "dx_ring.h"

#ifndef DX_STRING_MAX
#define DX_STRING_MAX 31u /* longest device id / model string sent in INFO */
#endif

#define DX_TX_PAYLOAD_MAX_SAMPLES DX_SAMPLES_PAYLOAD_MAX(DX_MAX_BATCH, DX_MAX_CHANNELS, DX_MAX_WIDTH)
#define DX_TX_PAYLOAD_MAX_INFO \
    (DX_INFO_PAYLOAD_MAX(DX_STRING_MAX, DX_STRING_MAX) + DX_INFO_DECL_MAX(DX_MAX_CHANNELS))
#define DX_TX_PAYLOAD_MAX \
    (DX_TX_PAYLOAD_MAX_SAMPLES > DX_TX_PAYLOAD_MAX_INFO ? DX_TX_PAYLOAD_MAX_SAMPLES : DX_TX_PAYLOAD_MAX_INFO)
#define DX_TX_CAP DX_WIRE_CAP(DX_TX_PAYLOAD_MAX)
#define DX_RX_CAP (DX_COBS_RX_MAX(DX_RX_BODY_MAX))
#define DX_COBS_RX_MAX(n) ((n) + (n) / 254u + 1u)

#if DX_TX_PAYLOAD_MAX > 4096u
#error "a SAMPLES frame of DX_MAX_BATCH x DX_MAX_CHANNELS exceeds the protocol's 4096-byte payload"
#endif

typedef struct {
    const char *device_id;   /* INFO id, e.g. a serial number */
    const char *model;       /* INFO model, e.g. "dexumi-glove-16" */
    uint8_t channels;        /* 1..DX_MAX_CHANNELS */
    uint8_t resolution_bits; /* ADC resolution, e.g. 24 */
    uint8_t sample_width;    /* bytes per value on the wire: 2..DX_MAX_WIDTH */
    uint16_t max_batch;      /* 1..DX_MAX_BATCH (0: DX_MAX_BATCH) */
    uint32_t rate_mhz;       /* sample rate at power-up, millihertz */
    uint32_t min_rate_mhz;   /* SET_RATE range */
    uint32_t max_rate_mhz;
    const uint8_t *channel_decl; /* INFO channel declaration, DX_CHANNEL_DECL_SIZE bytes per channel
                                    (kind, unit, scale_exp10); NULL: none, as firmware before it */
} dx_device_config_t;

typedef struct {
    uint8_t kind; /* DX_MSG_ACK, DX_MSG_INFO, DX_MSG_PONG or DX_MSG_ERROR */
    uint8_t command;
    uint8_t status;
    uint16_t code;
    uint32_t command_seq;
    uint32_t detail; /* ERROR detail, PONG receive time, or INFO rate */
    uint8_t token[8];
} dx_response_t;

typedef struct {
    /* configuration */
    dx_device_config_t cfg;
    char device_id[DX_STRING_MAX + 1u];
    char model[DX_STRING_MAX + 1u];

    /* sampling */
    bool running;
    uint32_t rate_mhz;
    uint16_t batch;
    bool batch_auto; /* batch follows the rate (ceil(rate / 500 Hz)) until SET_BATCH */
    uint32_t period_us, period_rem, period_acc; /* period = 1e9 / rate_mhz us: integer part + remainder */
    uint32_t next_due;                            /* device time of the next sample */
    uint32_t sample_index;                        /* counter of the next sample */
    dx_ring_t ring;

    /* errors to report */
    uint32_t lost;         /* samples lost since the last BUFFER_OVERFLOW report */
    uint32_t frame_errors; /* host frames rejected so far */
    bool frame_error_pending;
    uint8_t adc_fault; /* 1 + ADC index of a fault to report, 0 = none */

    /* link */
    uint32_t seq; /* next frame sequence number */
    uint8_t tx[DX_TX_CAP];
    size_t tx_len, tx_pos;
    uint8_t rx_buf[DX_RX_CAP];
    dx_rx_t rx;
    dx_response_t resp[DX_RESPONSE_QUEUE];
    uint8_t resp_head, resp_count;

    /* statistics */
    uint32_t frames_sent;
    uint32_t samples_sent;
    uint32_t lost_total;
} dx_device_t;

void dx_device_init(dx_device_t *d, const dx_device_config_t *cfg);

/* One pass of everything: receive and answer commands, take the samples that are due, feed the link. */
void dx_device_poll(dx_device_t *d);

/* Microseconds until the device has something to do (0: call dx_device_poll again now). Boards may
 * sleep that long, if the host link wakes them. */
uint32_t dx_device_idle_us(const dx_device_t *d);

/* Hand one received byte to the command parser (dx_device_poll does this with board_uart_read). */
void dx_device_rx_byte(dx_device_t *d, uint8_t byte);

#endif
