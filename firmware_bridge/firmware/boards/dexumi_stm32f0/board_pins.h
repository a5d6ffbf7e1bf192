/* Pin map of the DexUMI-class encoder board (STM32F042K6 + two ADS1256). DexUMI's schematic was not
 * available to us: these defaults follow the NUCLEO-F042K6 (USART2 on PA2/PA15 is its ST-LINK virtual COM
 * port) and SPI1's default pins. Check them against your board before flashing. */
#ifndef BOARD_PINS_H
#define BOARD_PINS_H

#define BOARD_SYSCLK_HZ 48000000u /* HSI48, no crystal needed */
#define BOARD_BAUD 921600u

/* host link: USART2, TX PA2 (AF1), RX PA15 (AF1) */
#define BOARD_USART_BASE 0x40004400u
#define BOARD_USART_IRQ 28u
#define BOARD_USART_TX_PIN 2u
#define BOARD_USART_RX_PIN 15u
#define BOARD_USART_AF 1u

/* ADS1256 bus: SPI1 on PA5 (SCK), PA6 (MISO), PA7 (MOSI), AF0; 48 MHz / 32 = 1.5 MHz SCLK */
#define BOARD_SPI_SCK_PIN 5u
#define BOARD_SPI_MISO_PIN 6u
#define BOARD_SPI_MOSI_PIN 7u

/* per ADC: chip select (output) and DRDY (input, active low) */
#define BOARD_ADC0_CS_PORT GPIOA_BASE
#define BOARD_ADC0_CS_PIN 4u
#define BOARD_ADC0_DRDY_PORT GPIOA_BASE
#define BOARD_ADC0_DRDY_PIN 8u
#define BOARD_ADC1_CS_PORT GPIOB_BASE
#define BOARD_ADC1_CS_PIN 0u
#define BOARD_ADC1_DRDY_PORT GPIOB_BASE
#define BOARD_ADC1_DRDY_PIN 1u

/* channels per ADC: 8 + 8 = 16 (the XHand build uses 14, the Inspire build 8: set 7 or 4) */
#define BOARD_INPUTS_PER_ADC 8u
#define BOARD_ADCS 2u

#endif
