/* The few STM32F04x registers the DexUMI-class board file uses (RM0091), so no vendor headers are needed. */
#ifndef STM32F0_REGS_H
#define STM32F0_REGS_H

#include <stdint.h>

#define STM_REG32(addr) (*(volatile uint32_t *)(addr))
#define STM_REG8(addr) (*(volatile uint8_t *)(addr))

/* flash interface */
#define FLASH_ACR STM_REG32(0x40022000u)
#define FLASH_ACR_LATENCY_1 0x01u
#define FLASH_ACR_PRFTBE 0x10u

/* reset and clock control */
#define RCC_BASE 0x40021000u
#define RCC_CFGR STM_REG32(RCC_BASE + 0x04u)
#define RCC_AHBENR STM_REG32(RCC_BASE + 0x14u)
#define RCC_APB2ENR STM_REG32(RCC_BASE + 0x18u)
#define RCC_APB1ENR STM_REG32(RCC_BASE + 0x1Cu)
#define RCC_CR2 STM_REG32(RCC_BASE + 0x34u)
#define RCC_CR2_HSI48ON (1u << 16)
#define RCC_CR2_HSI48RDY (1u << 17)
#define RCC_CFGR_SW_MASK 0x3u
#define RCC_CFGR_SW_HSI48 0x3u
#define RCC_CFGR_SWS_MASK 0xCu
#define RCC_CFGR_SWS_HSI48 0xCu
#define RCC_AHBENR_GPIOA (1u << 17)
#define RCC_AHBENR_GPIOB (1u << 18)
#define RCC_APB2ENR_SPI1 (1u << 12)
#define RCC_APB2ENR_USART1 (1u << 14)
#define RCC_APB1ENR_TIM2 (1u << 0)
#define RCC_APB1ENR_USART2 (1u << 17)

/* GPIO */
#define GPIOA_BASE 0x48000000u
#define GPIOB_BASE 0x48000400u
#define GPIO_MODER(port) STM_REG32((port) + 0x00u)
#define GPIO_OSPEEDR(port) STM_REG32((port) + 0x08u)
#define GPIO_PUPDR(port) STM_REG32((port) + 0x0Cu)
#define GPIO_IDR(port) STM_REG32((port) + 0x10u)
#define GPIO_BSRR(port) STM_REG32((port) + 0x18u)
#define GPIO_AFR(port, pin) STM_REG32((port) + ((pin) < 8u ? 0x20u : 0x24u))
#define GPIO_MODE_INPUT 0u
#define GPIO_MODE_OUTPUT 1u
#define GPIO_MODE_AF 2u

/* SPI1 */
#define SPI1_BASE 0x40013000u
#define SPI1_CR1 STM_REG32(SPI1_BASE + 0x00u)
#define SPI1_CR2 STM_REG32(SPI1_BASE + 0x04u)
#define SPI1_SR STM_REG32(SPI1_BASE + 0x08u)
#define SPI1_DR8 STM_REG8(SPI1_BASE + 0x0Cu) /* 8-bit access: one frame, no data packing */
#define SPI_CR1_CPHA (1u << 0)
#define SPI_CR1_MSTR (1u << 2)
#define SPI_CR1_BR_DIV32 (4u << 3)
#define SPI_CR1_SPE (1u << 6)
#define SPI_CR1_SSI (1u << 8)
#define SPI_CR1_SSM (1u << 9)
#define SPI_CR2_DS_8BIT (7u << 8)
#define SPI_CR2_FRXTH (1u << 12)
#define SPI_SR_RXNE (1u << 0)
#define SPI_SR_TXE (1u << 1)
#define SPI_SR_BSY (1u << 7)

/* USART (USART1 at 0x40013800, USART2 at 0x40004400) */
#define USART_CR1(base) STM_REG32((base) + 0x00u)
#define USART_BRR(base) STM_REG32((base) + 0x0Cu)
#define USART_ISR(base) STM_REG32((base) + 0x1Cu)
#define USART_ICR(base) STM_REG32((base) + 0x20u)
#define USART_RDR(base) STM_REG32((base) + 0x24u)
#define USART_TDR(base) STM_REG32((base) + 0x28u)
#define USART_CR1_UE (1u << 0)
#define USART_CR1_RE (1u << 2)
#define USART_CR1_TE (1u << 3)
#define USART_CR1_RXNEIE (1u << 5)
#define USART_CR1_TXEIE (1u << 7)
#define USART_ISR_ORE (1u << 3)
#define USART_ISR_RXNE (1u << 5)
#define USART_ISR_TXE (1u << 7)
#define USART_ICR_ORECF (1u << 3)

/* TIM2: 32-bit general-purpose timer */
#define TIM2_BASE 0x40000000u
#define TIM2_CR1 STM_REG32(TIM2_BASE + 0x00u)
#define TIM2_EGR STM_REG32(TIM2_BASE + 0x14u)
#define TIM2_CNT STM_REG32(TIM2_BASE + 0x24u)
#define TIM2_PSC STM_REG32(TIM2_BASE + 0x28u)
#define TIM2_ARR STM_REG32(TIM2_BASE + 0x2Cu)

/* Cortex-M0 core */
#define NVIC_ISER STM_REG32(0xE000E100u)

#endif
