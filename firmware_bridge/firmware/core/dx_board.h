/* The board interface: the functions a board file implements for the core. All are non-blocking. */
#ifndef DX_BOARD_H
#define DX_BOARD_H

#include <stddef.h>
#include <stdint.h>

/* Free-running microsecond clock; wraps at 2^32 (71.6 min). The core handles the wrap. */
uint32_t board_time_us(void);

/* Read one sample of every channel into values[0..channels-1] (24-bit ADC counts, sign-extended).
 * sample_index is the scheduler's sample counter (synthetic boards derive their waveform from it; real
 * boards ignore it). Returns 0 on success or 1 + the index of the ADC that failed. */
int board_read_adc(uint32_t sample_index, int32_t *values);

/* Queue up to len bytes for the host link; returns how many were accepted (0 when the link is full). */
size_t board_uart_write(const uint8_t *data, size_t len);

/* Take up to max bytes the host sent; returns how many (0 when none are waiting). */
size_t board_uart_read(uint8_t *data, size_t max);

#endif
