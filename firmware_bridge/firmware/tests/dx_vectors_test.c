/* Golden-vector test of the C protocol core against the Python implementation.
 * Reads test cases, one per line, from stdin (written by tests/test_firmware_vectors.py from
 * firmware_bridge/protocol_vectors.json and from cases Python computes), prints "ok NAME" or
 * "FAIL NAME: why" per case and "summary PASSED FAILED"; exits non-zero on any failure.
 *
 *   crc     NAME DATAHEX CRC
 *   cobs    NAME RAWHEX ENCHEX
 *   samples NAME SEQ TIME FIRST WIDTH COUNT CHANNELS T_US[COUNT] VALUES[COUNT*CHANNELS] WIREHEX
 *   info    NAME SEQ TIME FW0 FW1 FW2 CHANNELS BITS WIDTH MAXBATCH RATE_MHZ MAXRATE_MHZ IDHEX MODELHEX DECLHEX WIREHEX
 *           (DECLHEX: the channel declaration, 3 bytes per channel; "-" for none)
 *   ack     NAME SEQ TIME COMMAND_SEQ COMMAND STATUS WIREHEX
 *   pong    NAME SEQ TIME COMMAND_SEQ TOKENHEX DEVICE_RX_US WIREHEX
 *   error   NAME SEQ TIME CODE DETAIL TEXTHEX WIREHEX
 *   command NAME TYPE SEQ TIME PAYLOADHEX WIREHEX      (encode, and parse back with the receiver)
 *   reject  NAME WIREHEX                              (the receiver must reject it)
 * An empty hex string is written "-". */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dx_cobs.h"
#include "dx_crc32c.h"
#include "dx_proto.h"

#define MAX_BYTES 16384
#define MAX_VALUES 4096

static char line[1 << 17];
static char *tok_save;
static int failed, passed;
static char name[128];

static char *next_tok(void)
{
    char *t = strtok_r(NULL, " \t\r\n", &tok_save);
    if (t == NULL) {
        fprintf(stderr, "truncated line for %s\n", name);
        exit(2);
    }
    return t;
}

static unsigned long next_u(void)
{
    return strtoul(next_tok(), NULL, 0);
}

static size_t next_hex(uint8_t *out, size_t cap)
{
    const char *t = next_tok();
    size_t n = 0;
    if (strcmp(t, "-") == 0) {
        return 0;
    }
    while (t[0] != '\0' && t[1] != '\0' && n < cap) {
        unsigned v;
        sscanf(t, "%2x", &v);
        out[n++] = (uint8_t)v;
        t += 2;
    }
    return n;
}

static void report(int ok, const char *why)
{
    if (ok) {
        passed++;
        printf("ok %s\n", name);
    } else {
        failed++;
        printf("FAIL %s: %s\n", name, why);
    }
}

static void check_wire(const uint8_t *got, size_t got_len, const uint8_t *want, size_t want_len)
{
    if (got_len != want_len) {
        char why[96];
        snprintf(why, sizeof why, "wire length %zu, expected %zu", got_len, want_len);
        report(0, why);
    } else if (memcmp(got, want, want_len) != 0) {
        size_t i = 0;
        char why[96];
        while (got[i] == want[i]) {
            i++;
        }
        snprintf(why, sizeof why, "wire differs at byte %zu: %02x, expected %02x", i, got[i], want[i]);
        report(0, why);
    } else {
        report(1, "");
    }
}

static uint8_t wire[MAX_BYTES], want[MAX_BYTES], payload[MAX_BYTES], tmp[MAX_BYTES];
static uint32_t t_us[MAX_VALUES];
static int32_t values[MAX_VALUES];

int main(void)
{
    while (fgets(line, sizeof line, stdin) != NULL) {
        char *kind = strtok_r(line, " \t\r\n", &tok_save);
        size_t n, m, i;
        uint32_t seq, time_us;
        if (kind == NULL) {
            continue;
        }
        snprintf(name, sizeof name, "%s", next_tok());
        if (strcmp(kind, "crc") == 0) {
            uint32_t crc;
            n = next_hex(payload, sizeof payload);
            crc = (uint32_t)next_u();
            report(dx_crc32c(payload, n) == crc, "crc differs");
        } else if (strcmp(kind, "cobs") == 0) {
            size_t dec_len = 0;
            n = next_hex(payload, sizeof payload);
            m = next_hex(want, sizeof want);
            i = dx_cobs_encode(payload, n, wire);
            if (i != m || memcmp(wire, want, m) != 0) {
                report(0, "encoding differs");
            } else if (!dx_cobs_decode(want, m, tmp, sizeof tmp, &dec_len) || dec_len != n ||
                       memcmp(tmp, payload, n) != 0) {
                report(0, "decoding differs");
            } else {
                /* in place: the raw bytes stored 1 + n/254 ahead of the output */
                size_t off = 1u + n / 254u;
                memcpy(tmp + off, payload, n);
                i = dx_cobs_encode(tmp + off, n, tmp);
                report(i == m && memcmp(tmp, want, m) == 0, "in-place encoding differs");
            }
        } else if (strcmp(kind, "samples") == 0) {
            uint32_t first, width, count, channels;
            seq = (uint32_t)next_u();
            time_us = (uint32_t)next_u();
            first = (uint32_t)next_u();
            width = (uint32_t)next_u();
            count = (uint32_t)next_u();
            channels = (uint32_t)next_u();
            for (i = 0; i < count; i++) {
                t_us[i] = (uint32_t)next_u();
            }
            for (i = 0; i < (size_t)count * channels; i++) {
                values[i] = (int32_t)strtol(next_tok(), NULL, 0);
            }
            m = next_hex(want, sizeof want);
            n = dx_payload_samples(payload, first, (uint16_t)count, (uint8_t)channels, (uint8_t)width, t_us,
                                   values);
            /* built in place, as the device does */
            memcpy(dx_frame_payload(wire, sizeof wire), payload, n);
            check_wire(wire, dx_frame_seal(wire, sizeof wire, DX_MSG_SAMPLES, seq, time_us, n), want, m);
        } else if (strcmp(kind, "info") == 0) {
            dx_info_t info;
            static char id[300], model[300];
            static uint8_t decl[3 * 256];
            seq = (uint32_t)next_u();
            time_us = (uint32_t)next_u();
            info.fw_major = (uint8_t)next_u();
            info.fw_minor = (uint8_t)next_u();
            info.fw_patch = (uint8_t)next_u();
            info.channels = (uint8_t)next_u();
            info.resolution_bits = (uint8_t)next_u();
            info.sample_width = (uint8_t)next_u();
            info.max_batch = (uint16_t)next_u();
            info.rate_mhz = (uint32_t)next_u();
            info.max_rate_mhz = (uint32_t)next_u();
            n = next_hex((uint8_t *)id, sizeof id - 1);
            id[n] = '\0';
            n = next_hex((uint8_t *)model, sizeof model - 1);
            model[n] = '\0';
            info.device_id = id;
            info.model = model;
            n = next_hex(decl, sizeof decl);
            info.channel_decl = n ? decl : NULL;
            m = next_hex(want, sizeof want);
            n = dx_payload_info(payload, &info);
            check_wire(wire, dx_frame_encode(wire, sizeof wire, DX_MSG_INFO, seq, time_us, payload, n), want, m);
        } else if (strcmp(kind, "ack") == 0) {
            uint32_t cseq, cmd, status;
            seq = (uint32_t)next_u();
            time_us = (uint32_t)next_u();
            cseq = (uint32_t)next_u();
            cmd = (uint32_t)next_u();
            status = (uint32_t)next_u();
            m = next_hex(want, sizeof want);
            n = dx_payload_ack(payload, cseq, (uint8_t)cmd, (uint8_t)status);
            check_wire(wire, dx_frame_encode(wire, sizeof wire, DX_MSG_ACK, seq, time_us, payload, n), want, m);
        } else if (strcmp(kind, "pong") == 0) {
            uint32_t cseq, rx;
            uint8_t token[8];
            seq = (uint32_t)next_u();
            time_us = (uint32_t)next_u();
            cseq = (uint32_t)next_u();
            next_hex(token, sizeof token);
            rx = (uint32_t)next_u();
            m = next_hex(want, sizeof want);
            n = dx_payload_pong(payload, cseq, token, rx);
            check_wire(wire, dx_frame_encode(wire, sizeof wire, DX_MSG_PONG, seq, time_us, payload, n), want, m);
        } else if (strcmp(kind, "error") == 0) {
            uint32_t code, detail;
            static char text[300];
            seq = (uint32_t)next_u();
            time_us = (uint32_t)next_u();
            code = (uint32_t)next_u();
            detail = (uint32_t)next_u();
            n = next_hex((uint8_t *)text, sizeof text - 1);
            text[n] = '\0';
            m = next_hex(want, sizeof want);
            n = dx_payload_error(payload, (uint16_t)code, detail, text);
            check_wire(wire, dx_frame_encode(wire, sizeof wire, DX_MSG_ERROR, seq, time_us, payload, n), want, m);
        } else if (strcmp(kind, "command") == 0) {
            uint32_t type;
            uint8_t rxbuf[64];
            dx_rx_t rx;
            dx_frame_t f;
            int got = 0, r = 0;
            type = (uint32_t)next_u();
            seq = (uint32_t)next_u();
            time_us = (uint32_t)next_u();
            n = next_hex(payload, sizeof payload);
            m = next_hex(want, sizeof want);
            i = dx_frame_encode(wire, sizeof wire, (uint8_t)type, seq, time_us, payload, n);
            if (i != m || memcmp(wire, want, m) != 0) {
                report(0, "command encoding differs");
                continue;
            }
            /* the device's receiver, fed byte by byte, behind a stray delimiter */
            dx_rx_init(&rx, rxbuf, sizeof rxbuf);
            r = dx_rx_byte(&rx, 0u, &f);
            for (i = 0; i < m && r == 0; i++) {
                r = dx_rx_byte(&rx, want[i], &f);
                got += r == 1;
            }
            report(got == 1 && i == m && f.type == type && f.seq == seq && f.time_us == time_us &&
                       f.payload_len == n && memcmp(f.payload, payload, n) == 0,
                   "receiver did not return the command");
        } else if (strcmp(kind, "reject") == 0) {
            uint8_t rxbuf[64];
            dx_rx_t rx;
            dx_frame_t f;
            int r = 0;
            m = next_hex(want, sizeof want);
            dx_rx_init(&rx, rxbuf, sizeof rxbuf);
            for (i = 0; i < m; i++) {
                r = dx_rx_byte(&rx, want[i], &f);
                if (r != 0) {
                    break;
                }
            }
            report(r == -1 && i == m - 1, "receiver did not reject it at the delimiter");
        } else {
            fprintf(stderr, "unknown case kind %s\n", kind);
            return 2;
        }
    }
    printf("summary %d %d\n", passed, failed);
    return failed != 0;
}
