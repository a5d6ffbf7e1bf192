#include "dx_ring.h"

#include <stddef.h>

#define DX_RING_MASK (DX_RING_SAMPLES - 1u)

void dx_ring_init(dx_ring_t *ring)
{
    ring->head = 0;
    ring->tail = 0;
}

uint32_t dx_ring_count(const dx_ring_t *ring)
{
    return ring->head - ring->tail;
}

dx_sample_t *dx_ring_claim(dx_ring_t *ring)
{
    if (dx_ring_count(ring) >= DX_RING_SAMPLES) {
        return NULL;
    }
    return &ring->slot[ring->head & DX_RING_MASK];
}

void dx_ring_commit(dx_ring_t *ring)
{
    ring->head = ring->head + 1u;
}

const dx_sample_t *dx_ring_peek(const dx_ring_t *ring, uint32_t k)
{
    return &ring->slot[(ring->tail + k) & DX_RING_MASK];
}

void dx_ring_drop(dx_ring_t *ring, uint32_t n)
{
    uint32_t count = dx_ring_count(ring);
    ring->tail = ring->tail + (n < count ? n : count);
}
