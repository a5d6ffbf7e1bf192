/* Board file of the DexUMI-class encoder board: STM32F042K6 (Cortex-M0, 48 MHz from HSI48) with two
 * ADS1256 on SPI1 and the host on USART2 at 921600 8N1 — re-flashing an existing board to protocol v1.
 *
 * Register-level (no HAL, no CMSIS download): clocks, GPIO, USART2 with interrupt-driven ring buffers,
 * SPI1 in mode 1 for the ADCs, TIM2 as the free-running 32-bit microsecond clock (prescaler 48), the
 * vector table and reset handler. Pins are in board_pins.h.
 *
 * UNTESTED ON HARDWARE: it compiles and links for the STM32F042K6 in CI (build.py stm32f0), nothing
 * more. See docs/firmware.md for what to check on a real board. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "board_pins.h"
#include "dx_ads1256.h"
#include "dx_board.h"
#include "dx_device.h"
#include "stm32f0_regs.h"

#define CHANNELS (BOARD_ADCS * BOARD_INPUTS_PER_ADC)
#define TX_RING 256u /* powers of two */
#define RX_RING 64u

static volatile uint8_t g_tx[TX_RING];
static volatile uint32_t g_tx_head, g_tx_tail; /* head: main loop writes; tail: interrupt */
static volatile uint8_t g_rx[RX_RING];
static volatile uint32_t g_rx_head, g_rx_tail; /* head: interrupt; tail: main loop */

static dx_device_t g_dev;
static dx_ads1256_t g_ads;
static int g_ads_init_fault;

/* ------------------------------------------------------------------------------------------- GPIO */

static void gpio_mode(uint32_t port, uint32_t pin, uint32_t mode)
{
    GPIO_MODER(port) = (GPIO_MODER(port) & ~(3u << (2u * pin))) | (mode << (2u * pin));
    GPIO_OSPEEDR(port) |= 3u << (2u * pin); /* high speed */
}

static void gpio_af(uint32_t port, uint32_t pin, uint32_t af)
{
    uint32_t shift = 4u * (pin & 7u);
    GPIO_AFR(port, pin) = (GPIO_AFR(port, pin) & ~(0xFu << shift)) | (af << shift);
    gpio_mode(port, pin, GPIO_MODE_AF);
}

static void gpio_write(uint32_t port, uint32_t pin, bool high)
{
    GPIO_BSRR(port) = high ? (1u << pin) : (1u << (pin + 16u));
}

static bool gpio_read(uint32_t port, uint32_t pin)
{
    return (GPIO_IDR(port) >> pin) & 1u;
}

/* ------------------------------------------------------------------------------------ board interface */

uint32_t board_time_us(void)
{
    return TIM2_CNT; /* 1 MHz, 32 bits: wraps every 71.6 min like the protocol's clock */
}

int board_read_adc(uint32_t sample_index, int32_t *values)
{
    (void)sample_index;
    if (g_ads_init_fault != 0) {
        return g_ads_init_fault;
    }
    return dx_ads1256_snapshot(&g_ads, values);
}

size_t board_uart_write(const uint8_t *data, size_t len)
{
    size_t n = 0;
    while (n < len && g_tx_head - g_tx_tail < TX_RING) {
        g_tx[g_tx_head & (TX_RING - 1u)] = data[n++];
        g_tx_head = g_tx_head + 1u;
    }
    if (n > 0u) {
        USART_CR1(BOARD_USART_BASE) |= USART_CR1_TXEIE; /* the interrupt drains the ring */
    }
    return n;
}

size_t board_uart_read(uint8_t *data, size_t max)
{
    size_t n = 0;
    while (n < max && g_rx_tail != g_rx_head) {
        data[n++] = g_rx[g_rx_tail & (RX_RING - 1u)];
        g_rx_tail = g_rx_tail + 1u;
    }
    return n;
}

void stm32_usart_irq(void);

void stm32_usart_irq(void)
{
    uint32_t isr = USART_ISR(BOARD_USART_BASE);
    if (isr & USART_ISR_ORE) {
        USART_ICR(BOARD_USART_BASE) = USART_ICR_ORECF; /* a lost byte shows up as a FRAME_ERROR */
    }
    if (isr & USART_ISR_RXNE) {
        uint8_t b = (uint8_t)USART_RDR(BOARD_USART_BASE);
        if (g_rx_head - g_rx_tail < RX_RING) {
            g_rx[g_rx_head & (RX_RING - 1u)] = b;
            g_rx_head = g_rx_head + 1u;
        }
    }
    if ((isr & USART_ISR_TXE) && (USART_CR1(BOARD_USART_BASE) & USART_CR1_TXEIE)) {
        if (g_tx_tail != g_tx_head) {
            USART_TDR(BOARD_USART_BASE) = g_tx[g_tx_tail & (TX_RING - 1u)];
            g_tx_tail = g_tx_tail + 1u;
        } else {
            USART_CR1(BOARD_USART_BASE) &= ~USART_CR1_TXEIE;
        }
    }
}

/* ---------------------------------------------------------------------------------------- ADS1256 I/O */

static void ads_select(uint8_t adc, bool selected)
{
    while (SPI1_SR & SPI_SR_BSY) {
    }
    if (adc == 0u) {
        gpio_write(BOARD_ADC0_CS_PORT, BOARD_ADC0_CS_PIN, !selected);
    } else {
        gpio_write(BOARD_ADC1_CS_PORT, BOARD_ADC1_CS_PIN, !selected);
    }
}

static uint8_t ads_transfer(uint8_t out)
{
    while ((SPI1_SR & SPI_SR_TXE) == 0u) {
    }
    SPI1_DR8 = out;
    while ((SPI1_SR & SPI_SR_RXNE) == 0u) {
    }
    return SPI1_DR8;
}

static bool ads_ready(uint8_t adc)
{
    return adc == 0u ? !gpio_read(BOARD_ADC0_DRDY_PORT, BOARD_ADC0_DRDY_PIN)
                     : !gpio_read(BOARD_ADC1_DRDY_PORT, BOARD_ADC1_DRDY_PIN);
}

static void ads_delay_us(uint32_t us)
{
    uint32_t t0 = board_time_us();
    while (board_time_us() - t0 <= us) {
    }
}

static const dx_ads1256_io_t g_ads_io = {ads_select, ads_transfer, ads_ready, ads_delay_us, board_time_us};

/* -------------------------------------------------------------------------------------------- start-up */

static void clock_init(void)
{
    FLASH_ACR = FLASH_ACR_LATENCY_1 | FLASH_ACR_PRFTBE; /* one wait state above 24 MHz */
    RCC_CR2 |= RCC_CR2_HSI48ON;
    while ((RCC_CR2 & RCC_CR2_HSI48RDY) == 0u) {
    }
    RCC_CFGR = (RCC_CFGR & ~RCC_CFGR_SW_MASK) | RCC_CFGR_SW_HSI48; /* AHB = APB = 48 MHz */
    while ((RCC_CFGR & RCC_CFGR_SWS_MASK) != RCC_CFGR_SWS_HSI48) {
    }
    RCC_AHBENR |= RCC_AHBENR_GPIOA | RCC_AHBENR_GPIOB;
    RCC_APB2ENR |= RCC_APB2ENR_SPI1;
    RCC_APB1ENR |= RCC_APB1ENR_TIM2 | RCC_APB1ENR_USART2;
}

static void timer_init(void)
{
    TIM2_PSC = BOARD_SYSCLK_HZ / 1000000u - 1u;
    TIM2_ARR = 0xFFFFFFFFu;
    TIM2_EGR = 1u; /* load the prescaler */
    TIM2_CR1 = 1u;
}

static void uart_init(void)
{
    gpio_af(GPIOA_BASE, BOARD_USART_TX_PIN, BOARD_USART_AF);
    gpio_af(GPIOA_BASE, BOARD_USART_RX_PIN, BOARD_USART_AF);
    GPIO_PUPDR(GPIOA_BASE) |= 1u << (2u * BOARD_USART_RX_PIN); /* RX idles high */
    USART_BRR(BOARD_USART_BASE) = (BOARD_SYSCLK_HZ + BOARD_BAUD / 2u) / BOARD_BAUD; /* 52: 921600 -0.16 % */
    USART_CR1(BOARD_USART_BASE) = USART_CR1_UE | USART_CR1_RE | USART_CR1_TE | USART_CR1_RXNEIE;
    NVIC_ISER = 1u << BOARD_USART_IRQ;
}

static void spi_init(void)
{
    gpio_af(GPIOA_BASE, BOARD_SPI_SCK_PIN, 0u);
    gpio_af(GPIOA_BASE, BOARD_SPI_MISO_PIN, 0u);
    gpio_af(GPIOA_BASE, BOARD_SPI_MOSI_PIN, 0u);
    gpio_write(BOARD_ADC0_CS_PORT, BOARD_ADC0_CS_PIN, true);
    gpio_write(BOARD_ADC1_CS_PORT, BOARD_ADC1_CS_PIN, true);
    gpio_mode(BOARD_ADC0_CS_PORT, BOARD_ADC0_CS_PIN, GPIO_MODE_OUTPUT);
    gpio_mode(BOARD_ADC1_CS_PORT, BOARD_ADC1_CS_PIN, GPIO_MODE_OUTPUT);
    gpio_mode(BOARD_ADC0_DRDY_PORT, BOARD_ADC0_DRDY_PIN, GPIO_MODE_INPUT);
    gpio_mode(BOARD_ADC1_DRDY_PORT, BOARD_ADC1_DRDY_PIN, GPIO_MODE_INPUT);
    SPI1_CR2 = SPI_CR2_DS_8BIT | SPI_CR2_FRXTH;
    SPI1_CR1 = SPI_CR1_CPHA | SPI_CR1_MSTR | SPI_CR1_BR_DIV32 | SPI_CR1_SSM | SPI_CR1_SSI | SPI_CR1_SPE;
}

int main(void)
{
    dx_device_config_t cfg = {0};
    clock_init();
    timer_init();
    uart_init();
    spi_init();
    g_ads_init_fault = dx_ads1256_init(&g_ads, &g_ads_io, BOARD_ADCS, BOARD_INPUTS_PER_ADC,
                                       DX_ADS1256_DRATE_30000);

    cfg.device_id = "DXB-F042";
    cfg.model = "dexumi-stm32f042-ads1256";
    cfg.channels = CHANNELS;
    cfg.resolution_bits = 24;
    cfg.sample_width = 3;
    cfg.max_batch = DX_MAX_BATCH;
    cfg.rate_mhz = 200000u;      /* 200 Hz at power-up */
    cfg.min_rate_mhz = 1000u;    /* 1 Hz */
    cfg.max_rate_mhz = 400000u;  /* 8 inputs cycled at 30 kSPS: ~450 scans/s (datasheet settling times) */
    dx_device_init(&g_dev, &cfg);

    for (;;) {
        dx_ads1256_service(&g_ads);
        dx_device_poll(&g_dev);
    }
}

/* memcpy and memset come from boards/common/dx_freestanding.c */

void stm32_reset(void);
void stm32_fault(void);
extern uint32_t _sidata, _sdata, _edata, _sbss, _ebss, _estack;

void stm32_fault(void)
{
    for (;;) {
    }
}

void stm32_reset(void)
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
    stm32_fault();
}

typedef void (*vector_t)(void);

typedef struct {
    uint32_t *initial_sp;
    vector_t core[15];
    vector_t irq[32];
} vector_table_t;

__attribute__((section(".isr_vector"), used)) static const vector_table_t g_vectors = {
    &_estack,
    {stm32_reset, stm32_fault, stm32_fault, 0, 0, 0, 0, 0, 0, 0, stm32_fault, 0, 0, stm32_fault, stm32_fault},
    {
        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* IRQ 0-15 */
        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,                /* IRQ 16-26 */
        stm32_usart_irq,                                /* IRQ 27: USART1 (if BOARD_USART_BASE is USART1) */
        stm32_usart_irq,                                /* IRQ 28: USART2 */
        0, 0, 0,
    },
};
