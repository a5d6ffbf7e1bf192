/* Compile-time capacities of the dexumi firmware core. Every buffer is static: these set the RAM use.
 * A board overrides them with -D flags (the defaults suit an STM32F042: 6 KB of RAM). */
#ifndef DX_CONFIG_H
#define DX_CONFIG_H

#ifndef DX_MAX_CHANNELS
#define DX_MAX_CHANNELS 16u /* values per sample */
#endif

#ifndef DX_MAX_BATCH
#define DX_MAX_BATCH 16u /* samples per SAMPLES frame */
#endif

#ifndef DX_RING_SAMPLES
#define DX_RING_SAMPLES 32u /* samples buffered between the scheduler and the link; a power of two */
#endif

#ifndef DX_MAX_WIDTH
#define DX_MAX_WIDTH 3u /* largest sample width on the wire, in bytes (2, 3 or 4) */
#endif

#ifndef DX_RX_BODY_MAX
#define DX_RX_BODY_MAX 32u /* largest command body accepted (commands carry at most 8 payload bytes) */
#endif

#ifndef DX_RESPONSE_QUEUE
#define DX_RESPONSE_QUEUE 6u /* ACK / INFO / PONG / ERROR frames waiting for the link */
#endif

#ifndef DX_CATCHUP_US
#define DX_CATCHUP_US 100000u /* a scheduler this late (us) skips the missed ticks instead of catching up */
#endif

#ifndef DX_CATCHUP_PER_POLL
#define DX_CATCHUP_PER_POLL 8u /* samples taken at most per dx_device_poll() call */
#endif

#define DX_FW_MAJOR 1u
#define DX_FW_MINOR 0u
#define DX_FW_PATCH 0u

#if (DX_RING_SAMPLES & (DX_RING_SAMPLES - 1u)) != 0u
#error "DX_RING_SAMPLES must be a power of two"
#endif
#if DX_MAX_BATCH > DX_RING_SAMPLES
#error "DX_MAX_BATCH must not exceed DX_RING_SAMPLES"
#endif
#if DX_MAX_WIDTH < 2u || DX_MAX_WIDTH > 4u
#error "DX_MAX_WIDTH must be 2, 3 or 4"
#endif

#endif
