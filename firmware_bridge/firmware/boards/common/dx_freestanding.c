/* memcpy and memset for bare-metal boards linked with -nostdlib: GCC may emit calls to them even in
 * freestanding code (structure copies, zeroing loops). Shared by the STM32F0 and QEMU boards. */
#include <stddef.h>
#include <stdint.h>

void *memcpy(void *dst, const void *src, size_t n);
void *memset(void *dst, int value, size_t n);

void *memcpy(void *dst, const void *src, size_t n)
{
    uint8_t *d = dst;
    const uint8_t *s = src;
    while (n-- > 0u) {
        *d++ = *s++;
    }
    return dst;
}

void *memset(void *dst, int value, size_t n)
{
    uint8_t *d = dst;
    while (n-- > 0u) {
        *d++ = (uint8_t)value;
    }
    return dst;
}
