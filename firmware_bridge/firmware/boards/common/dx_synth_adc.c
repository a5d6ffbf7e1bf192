#include "dx_synth_adc.h"

int32_t dx_synth_value(uint32_t index, uint32_t channel)
{
    uint32_t phase = (index * (37u + 13u * channel) + 4099u * channel) & 0xFFFFu;
    uint32_t h = phase & 0x7FFFu;
    int32_t s = (int32_t)((h * (32768u - h)) >> 13);
    int32_t amplitude = (int32_t)(255u - 8u * channel);
    return (phase < 32768u ? s : -s) * amplitude + 1000 * (int32_t)channel;
}

void dx_synth_sample(uint32_t index, uint32_t channels, int32_t *values)
{
    uint32_t c;
    for (c = 0; c < channels; c++) {
        values[c] = dx_synth_value(index, c);
    }
}
