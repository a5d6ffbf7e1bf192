/* Board file for QEMU's mps2-an385 (Cortex-M3, 25 MHz): the firmware-in-the-loop target.
 *
 * - vector table at 0x0 (linker script mps2_an385.ld), reset handler copying .data and zeroing .bss;
 * - CMSDK APB UART0 at 0x40004000 as the host link (`qemu-system-arm -serial pty`);
 * - SysTick free-running at the 25 MHz processor clock over its full 24 bits (0.67 s): the time base.
 *   board_time_us() extends it to a 32-bit microsecond clock from the cycles elapsed since its last call
 *   (the main loop calls it far more often than every 0.67 s). No tick interrupt counts time: QEMU
 *   delivers periodic timer interrupts late and merges them under load (a 100 us tick lost 4-17 % of
 *   its interrupts here), while the counter value it reads back is always exact;
 * - CMSDK TIMER0 interrupting every 100 us, only to wake the core from WFI;
 * - a synthetic ADC (boards/common/dx_synth_adc.c): 16 channels of 24-bit values computed from the
 *   sample index, which the host checks exactly.
 * The core idles with WFI when it has nothing to do, so QEMU does not spin a host CPU. */
#include <stddef.h>
#include <stdint.h>

#include "dx_board.h"
#include "dx_device.h"
#include "dx_synth_adc.h"

#define REG32(addr) (*(volatile uint32_t *)(addr))

#define UART0_BASE 0x40004000u
#define UART_DATA REG32(UART0_BASE + 0x00u)
#define UART_STATE REG32(UART0_BASE + 0x04u)
#define UART_CTRL REG32(UART0_BASE + 0x08u)
#define UART_BAUDDIV REG32(UART0_BASE + 0x10u)
#define UART_STATE_TX_FULL 0x1u
#define UART_STATE_RX_FULL 0x2u
#define UART_CTRL_TX_EN 0x1u
#define UART_CTRL_RX_EN 0x2u

#define SYST_CSR REG32(0xE000E010u)
#define SYST_RVR REG32(0xE000E014u)
#define SYST_CVR REG32(0xE000E018u)
#define SYSTICK_ENABLE_CPUCLK 0x5u /* enabled, processor clock, no interrupt */
#define SYSTICK_MASK 0x00FFFFFFu

#define TIMER0_BASE 0x40000000u
#define TIMER0_CTRL REG32(TIMER0_BASE + 0x00u)
#define TIMER0_VALUE REG32(TIMER0_BASE + 0x04u)
#define TIMER0_RELOAD REG32(TIMER0_BASE + 0x08u)
#define TIMER0_INTCLEAR REG32(TIMER0_BASE + 0x0Cu)
#define TIMER_CTRL_ENABLE_IRQ 0x9u
#define TIMER0_IRQ 8u
#define NVIC_ISER0 REG32(0xE000E100u)

#define CPU_HZ 25000000u
#define CYCLES_PER_US (CPU_HZ / 1000000u)
#define WAKE_US 100u
#define CHANNELS 16u

static uint32_t g_last_cvr = SYSTICK_MASK;
static uint32_t g_time_us;
static uint32_t g_cycles; /* cycles not yet counted into g_time_us */
static dx_device_t g_dev;

/* ------------------------------------------------------------------------------------- board interface */

uint32_t board_time_us(void)
{
    uint32_t cvr = SYST_CVR;
    g_cycles += (g_last_cvr - cvr) & SYSTICK_MASK; /* SysTick counts down, modulo 2^24 */
    g_last_cvr = cvr;
    g_time_us += g_cycles / CYCLES_PER_US;
    g_cycles %= CYCLES_PER_US;
    return g_time_us;
}

int board_read_adc(uint32_t sample_index, int32_t *values)
{
    dx_synth_sample(sample_index, CHANNELS, values);
    return 0;
}

size_t board_uart_write(const uint8_t *data, size_t len)
{
    size_t n = 0;
    while (n < len && (UART_STATE & UART_STATE_TX_FULL) == 0u) {
        UART_DATA = data[n++];
    }
    return n;
}

size_t board_uart_read(uint8_t *data, size_t max)
{
    size_t n = 0;
    while (n < max && (UART_STATE & UART_STATE_RX_FULL) != 0u) {
        data[n++] = (uint8_t)UART_DATA;
    }
    return n;
}

/* ------------------------------------------------------------------------------------------- start-up */

/* memcpy and memset come from boards/common/dx_freestanding.c */

int main(void);
void qemu_reset(void);
void qemu_timer0(void);
void qemu_fault(void);

extern uint32_t _sidata, _sdata, _edata, _sbss, _ebss, _estack;

void qemu_timer0(void)
{
    TIMER0_INTCLEAR = 1u; /* the wake-up is all it is for */
}

void qemu_fault(void)
{
    for (;;) {
    }
}

void qemu_reset(void)
{
    uint32_t *src = &_sidata;
    uint32_t *dst = &_sdata;
    while (dst < &_edata) {
        *dst++ = *src++;
    }
    for (dst = &_sbss; dst < &_ebss; dst++) {
        *dst = 0u;
    }
    (void)main();
    qemu_fault();
}

typedef void (*vector_t)(void);

typedef struct {
    uint32_t *initial_sp;
    vector_t handlers[15 + 9];
} vector_table_t;

__attribute__((section(".isr_vector"), used)) static const vector_table_t g_vectors = {
    &_estack,
    {
        qemu_reset, /* reset */
        qemu_fault, /* NMI */
        qemu_fault, /* hard fault */
        qemu_fault, /* memory management */
        qemu_fault, /* bus fault */
        qemu_fault, /* usage fault */
        0, 0, 0, 0, /* reserved */
        qemu_fault, /* SVCall */
        qemu_fault, /* debug monitor */
        0,          /* reserved */
        qemu_fault, /* PendSV */
        qemu_fault, /* SysTick (its interrupt stays off) */
        0, 0, 0, 0, 0, 0, 0, 0, /* IRQ 0-7: UARTs */
        qemu_timer0,            /* IRQ 8: TIMER0 */
    },
};

int main(void)
{
    dx_device_config_t cfg = {0};
    cfg.device_id = "QEMU-AN385";
    cfg.model = "dexumi-qemu-mps2";
    cfg.channels = CHANNELS;
    cfg.resolution_bits = 24;
    cfg.sample_width = 3;
    cfg.max_batch = DX_MAX_BATCH;
    cfg.rate_mhz = 1000000u;
    cfg.min_rate_mhz = 1000u;
    cfg.max_rate_mhz = 4000000u;

    UART_BAUDDIV = CPU_HZ / 921600u; /* 27: QEMU does not pace bytes, real CMSDK UARTs would */
    UART_CTRL = UART_CTRL_TX_EN | UART_CTRL_RX_EN;
    SYST_RVR = SYSTICK_MASK;
    SYST_CVR = 0u;
    SYST_CSR = SYSTICK_ENABLE_CPUCLK;
    g_last_cvr = SYST_CVR;
    TIMER0_RELOAD = CYCLES_PER_US * WAKE_US - 1u;
    TIMER0_VALUE = CYCLES_PER_US * WAKE_US - 1u;
    TIMER0_CTRL = TIMER_CTRL_ENABLE_IRQ;
    NVIC_ISER0 = 1u << TIMER0_IRQ;

    dx_device_init(&g_dev, &cfg);
    for (;;) {
        dx_device_poll(&g_dev);
        if (dx_device_idle_us(&g_dev) > WAKE_US && (UART_STATE & UART_STATE_RX_FULL) == 0u) {
            __asm__ volatile("wfi"); /* until the next TIMER0 wake-up */
        }
    }
}
