/* Portable driver for one or two TI ADS1256 (24-bit delta-sigma, 8 inputs) on a shared SPI bus, cycling
 * the input multiplexer through single-ended channels (AINx against AINCOM) in the background.
 *
 * The board supplies the pin and bus primitives; dx_ads1256_service() is called from the main loop (or
 * a DRDY interrupt) and never waits for a conversion: when an ADC's DRDY is low it reads the finished
 * conversion, which belongs to the channel selected before, and switches the multiplexer to the next
 * channel (datasheet SBAS288, "Cycling the ADS1256 Input Multiplexer": WREG MUX, SYNC, WAKEUP, RDATA).
 * dx_ads1256_snapshot() copies the latest value of every channel: the fixed-rate scheduler samples that.
 *
 * Channel numbering: ADC 0's channels first (AIN0..), then ADC 1's. */
#ifndef DX_ADS1256_H
#define DX_ADS1256_H

#include <stdbool.h>
#include <stdint.h>

#define DX_ADS1256_MAX_ADCS 2u
#define DX_ADS1256_INPUTS 8u

/* DRATE register values (with the usual 7.68 MHz clock). */
#define DX_ADS1256_DRATE_30000 0xF0u
#define DX_ADS1256_DRATE_15000 0xE0u
#define DX_ADS1256_DRATE_7500 0xD0u
#define DX_ADS1256_DRATE_3750 0xC0u
#define DX_ADS1256_DRATE_2000 0xB0u
#define DX_ADS1256_DRATE_1000 0xA1u

typedef struct {
    void (*select)(uint8_t adc, bool selected); /* chip select: selected = CS low */
    uint8_t (*transfer)(uint8_t out);           /* one SPI byte, mode 1 (CPOL 0, CPHA 1), <= 1.9 MHz */
    bool (*ready)(uint8_t adc);                 /* true while the ADC's DRDY pin is low */
    void (*delay_us)(uint32_t us);              /* busy wait, only for the datasheet's few-us gaps */
    uint32_t (*time_us)(void);                  /* the board's microsecond clock */
} dx_ads1256_io_t;

typedef struct {
    const dx_ads1256_io_t *io;
    uint8_t adcs;                           /* 1 or 2 */
    uint8_t inputs[DX_ADS1256_MAX_ADCS];    /* channels cycled on each ADC (1..8) */
    uint8_t current[DX_ADS1256_MAX_ADCS];   /* input whose conversion is running */
    uint32_t last_us[DX_ADS1256_MAX_ADCS];  /* time of the last conversion read */
    uint32_t scans[DX_ADS1256_MAX_ADCS];    /* full passes over the inputs */
    int32_t latest[DX_ADS1256_MAX_ADCS * DX_ADS1256_INPUTS];
    uint32_t timeout_us; /* DRDY silent this long: ADC fault */
} dx_ads1256_t;

/* Reset each ADC, check its ID, set input buffer + auto-calibration, gain 1, data rate, start at input 0.
 * Returns 0, or 1 + the index of the ADC that did not answer. */
int dx_ads1256_init(dx_ads1256_t *a, const dx_ads1256_io_t *io, uint8_t adcs, uint8_t inputs_per_adc,
                    uint8_t drate);

/* Collect finished conversions and advance the multiplexers; returns immediately when none is ready. */
void dx_ads1256_service(dx_ads1256_t *a);

/* Copy the latest value of every channel (adcs x inputs). Returns 0, or 1 + the index of an ADC whose
 * DRDY has been silent for timeout_us (its values are stale). */
int dx_ads1256_snapshot(const dx_ads1256_t *a, int32_t *values);

/* 24-bit two's complement, most significant byte first, to int32. */
int32_t dx_ads1256_sign_extend(uint8_t b2, uint8_t b1, uint8_t b0);

#endif
