#include "dx_ads1256.h"

#define CMD_WAKEUP 0x00u
#define CMD_RDATA 0x01u
#define CMD_SDATAC 0x0Fu
#define CMD_RREG 0x10u
#define CMD_WREG 0x50u
#define CMD_SELFCAL 0xF0u
#define CMD_SYNC 0xFCu
#define CMD_RESET 0xFEu

#define REG_STATUS 0x00u
#define REG_MUX 0x01u
#define REG_ADCON 0x02u
#define REG_DRATE 0x03u

#define STATUS_ACAL_BUFEN 0x06u /* MSB first, auto-calibration, input buffer on */
#define ADS1256_ID 0x3u         /* STATUS bits 7:4 */
#define MUX_AINCOM 0x08u

/* Datasheet timings at CLKIN = 7.68 MHz (tau = 130 ns), rounded up. */
#define T6_US 7u   /* command to data out: 50 tau */
#define T11_US 4u  /* after SYNC / RREG / WREG / RDATA: 24 tau */
#define RESET_US 1000u
#define CAL_TIMEOUT_US 500000u

int32_t dx_ads1256_sign_extend(uint8_t b2, uint8_t b1, uint8_t b0)
{
    uint32_t v = ((uint32_t)b2 << 16) | ((uint32_t)b1 << 8) | b0;
    return (int32_t)(v ^ 0x800000u) - 0x800000;
}

static void wreg(const dx_ads1256_io_t *io, uint8_t reg, uint8_t value)
{
    io->transfer((uint8_t)(CMD_WREG | reg));
    io->transfer(0u); /* one register */
    io->transfer(value);
    io->delay_us(T11_US);
}

static uint8_t rreg(const dx_ads1256_io_t *io, uint8_t reg)
{
    uint8_t v;
    io->transfer((uint8_t)(CMD_RREG | reg));
    io->transfer(0u);
    io->delay_us(T6_US);
    v = io->transfer(0xFFu);
    io->delay_us(T11_US);
    return v;
}

static bool wait_ready(const dx_ads1256_t *a, uint8_t adc, uint32_t timeout_us)
{
    uint32_t t0 = a->io->time_us();
    while (!a->io->ready(adc)) {
        if (a->io->time_us() - t0 > timeout_us) {
            return false;
        }
    }
    return true;
}

static uint8_t mux_for(uint8_t input)
{
    return (uint8_t)((input << 4) | MUX_AINCOM);
}

int dx_ads1256_init(dx_ads1256_t *a, const dx_ads1256_io_t *io, uint8_t adcs, uint8_t inputs_per_adc,
                    uint8_t drate)
{
    uint8_t adc;
    uint32_t k;
    a->io = io;
    a->adcs = adcs > DX_ADS1256_MAX_ADCS ? (uint8_t)DX_ADS1256_MAX_ADCS : adcs;
    a->timeout_us = 20000u;
    for (k = 0; k < DX_ADS1256_MAX_ADCS * DX_ADS1256_INPUTS; k++) {
        a->latest[k] = 0;
    }
    for (adc = 0; adc < a->adcs; adc++) {
        a->inputs[adc] = inputs_per_adc == 0u || inputs_per_adc > DX_ADS1256_INPUTS ? (uint8_t)DX_ADS1256_INPUTS
                                                                                   : inputs_per_adc;
        a->current[adc] = 0;
        a->scans[adc] = 0;
        io->select(adc, true);
        io->transfer(CMD_RESET);
        io->select(adc, false);
        io->delay_us(RESET_US);
        if (!wait_ready(a, adc, CAL_TIMEOUT_US)) {
            return 1 + adc;
        }
        io->select(adc, true);
        io->transfer(CMD_SDATAC); /* single reads only: RDATA per multiplexer step */
        io->delay_us(T11_US);
        if ((rreg(io, REG_STATUS) >> 4) != ADS1256_ID) {
            io->select(adc, false);
            return 1 + adc;
        }
        wreg(io, REG_STATUS, STATUS_ACAL_BUFEN);
        wreg(io, REG_ADCON, 0x00u); /* clock out off, sensor detect off, PGA 1 (+-5 V with VREF 2.5 V) */
        wreg(io, REG_DRATE, drate);
        wreg(io, REG_MUX, mux_for(0));
        io->transfer(CMD_SELFCAL);
        io->select(adc, false);
        if (!wait_ready(a, adc, CAL_TIMEOUT_US)) {
            return 1 + adc;
        }
        io->select(adc, true);
        io->transfer(CMD_SYNC);
        io->delay_us(T11_US);
        io->transfer(CMD_WAKEUP);
        io->select(adc, false);
        a->last_us[adc] = io->time_us();
    }
    return 0;
}

void dx_ads1256_service(dx_ads1256_t *a)
{
    const dx_ads1256_io_t *io = a->io;
    uint8_t adc;
    for (adc = 0; adc < a->adcs; adc++) {
        uint8_t done, next, b2, b1, b0;
        if (!io->ready(adc)) {
            continue;
        }
        done = a->current[adc];
        next = (uint8_t)(done + 1u < a->inputs[adc] ? done + 1u : 0u);
        io->select(adc, true);
        wreg(io, REG_MUX, mux_for(next)); /* the next conversion's input ... */
        io->transfer(CMD_SYNC);
        io->delay_us(T11_US);
        io->transfer(CMD_WAKEUP); /* ... starts now */
        io->transfer(CMD_RDATA);  /* while the finished one is read out */
        io->delay_us(T6_US);
        b2 = io->transfer(0xFFu);
        b1 = io->transfer(0xFFu);
        b0 = io->transfer(0xFFu);
        io->select(adc, false);
        a->latest[adc * DX_ADS1256_INPUTS + done] = dx_ads1256_sign_extend(b2, b1, b0);
        a->current[adc] = next;
        a->last_us[adc] = io->time_us();
        if (next == 0u) {
            a->scans[adc]++;
        }
    }
}

int dx_ads1256_snapshot(const dx_ads1256_t *a, int32_t *values)
{
    uint32_t now = a->io->time_us();
    uint8_t adc, k;
    uint32_t n = 0;
    int fault = 0;
    for (adc = 0; adc < a->adcs; adc++) {
        for (k = 0; k < a->inputs[adc]; k++) {
            values[n++] = a->latest[adc * DX_ADS1256_INPUTS + k];
        }
        if (fault == 0 && now - a->last_us[adc] > a->timeout_us) {
            fault = 1 + adc;
        }
    }
    return fault;
}
