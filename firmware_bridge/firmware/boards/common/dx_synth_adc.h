/* Synthetic ADC for the software-in-the-loop and QEMU boards: smooth, deterministic waveforms computed
 * from the sample index alone, in integers, so the host can check every value exactly. The Python twin
 * is tests/test_firmware_sil.py::synth_values. For channel c and sample n:
 *
 *     phase = (n * (37 + 13 c) + 4099 c) mod 65536
 *     h     = phase mod 32768
 *     s     = h * (32768 - h) >> 13          (a parabolic half-sine, 0..32768)
 *     v     = (phase < 32768 ? s : -s) * (255 - 8 c) + 1000 c
 *
 * |v| < 2^23: the values fit a 24-bit ADC (wire width 3). */
#ifndef DX_SYNTH_ADC_H
#define DX_SYNTH_ADC_H

#include <stdint.h>

int32_t dx_synth_value(uint32_t index, uint32_t channel);
void dx_synth_sample(uint32_t index, uint32_t channels, int32_t *values);

#endif
