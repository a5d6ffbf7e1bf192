/* Sample ring buffer between the scheduler (producer) and the frame builder (consumer).
 * Single producer, single consumer: head and tail are free-running counters, each written by one side
 * only, so a producer in an interrupt and a consumer in the main loop need no lock on a 32-bit MCU. */
#ifndef DX_RING_H
#define DX_RING_H

#include <stdbool.h>
#include <stdint.h>

#include "dx_config.h"

typedef struct {
    uint32_t index; /* sample counter (wraps at 2^32) */
    uint32_t t_us;  /* device clock when it was taken */
    int32_t values[DX_MAX_CHANNELS];
} dx_sample_t;

typedef struct {
    dx_sample_t slot[DX_RING_SAMPLES];
    volatile uint32_t head; /* samples ever written */
    volatile uint32_t tail; /* samples ever consumed */
} dx_ring_t;

void dx_ring_init(dx_ring_t *ring);
uint32_t dx_ring_count(const dx_ring_t *ring);
/* The slot the next sample goes to, or NULL when the ring is full. */
dx_sample_t *dx_ring_claim(dx_ring_t *ring);
void dx_ring_commit(dx_ring_t *ring);
/* The k-th oldest sample (k < count). */
const dx_sample_t *dx_ring_peek(const dx_ring_t *ring, uint32_t k);
void dx_ring_drop(dx_ring_t *ring, uint32_t n);

#endif
