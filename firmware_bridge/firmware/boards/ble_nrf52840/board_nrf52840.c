/* Board file of a BLE-capable encoder board: nRF52840 (Zephyr / nRF Connect SDK) with two ADS1256 on
 * SPI, sending the same protocol v1 frames over USB CDC ACM and over a BLE GATT service:
 *   - samples characteristic (notify): the device's byte stream, cut into ATT_MTU-3-byte notifications
 *     (frames are COBS-delimited, so the host reassembles by concatenation);
 *   - commands characteristic (write, write without response): host command frames, any split.
 * The output goes to the link that last sent a command (USB at power-up); the other link stays quiet.
 *
 * Time base: TIMER3 at 1 MHz in 32-bit mode (the BLE controller uses TIMER0 and RTC0; nothing else here
 * should claim TIMER3). ADC: boards/common/dx_ads1256.c through Zephyr's SPI and GPIO drivers.
 *
 * UNTESTED: no nRF toolchain or hardware was available when this was written. It targets the nRF Connect
 * SDK 2.x (Zephyr 3.x) APIs; docs/firmware.md lists what to check first. */
#include <zephyr/bluetooth/bluetooth.h>
#include <zephyr/bluetooth/conn.h>
#include <zephyr/bluetooth/gatt.h>
#include <zephyr/bluetooth/uuid.h>
#include <zephyr/device.h>
#include <zephyr/drivers/gpio.h>
#include <zephyr/drivers/spi.h>
#include <zephyr/drivers/uart.h>
#include <zephyr/kernel.h>
#include <zephyr/sys/ring_buffer.h>
#include <zephyr/usb/usb_device.h>

#include <nrfx.h>
#include <stdio.h>
#include <string.h>

#include "dx_ads1256.h"
#include "dx_ble_uuids.h"
#include "dx_board.h"
#include "dx_device.h"

#define CHANNELS 16u
#define TX_RING_BYTES 4096u
#define RX_RING_BYTES 256u
#define BLE_CHUNK_MAX 244u /* ATT MTU 247 - 3 */

enum link { LINK_USB, LINK_BLE };

static dx_device_t g_dev;
static dx_ads1256_t g_ads;
static int g_ads_fault;

RING_BUF_DECLARE(g_usb_tx, TX_RING_BYTES);
RING_BUF_DECLARE(g_ble_tx, TX_RING_BYTES);
RING_BUF_DECLARE(g_rx, RX_RING_BYTES);
static struct k_spinlock g_lock;
static volatile enum link g_link = LINK_USB;

static const struct device *const g_cdc = DEVICE_DT_GET_ONE(zephyr_cdc_acm_uart);
static struct bt_conn *volatile g_conn;
static volatile bool g_notify;
static K_SEM_DEFINE(g_ble_tx_sem, 0, 1);

/* ------------------------------------------------------------------------------------- time base */

static void timer_init(void)
{
    NRF_TIMER3->TASKS_STOP = 1;
    NRF_TIMER3->MODE = TIMER_MODE_MODE_Timer;
    NRF_TIMER3->BITMODE = TIMER_BITMODE_BITMODE_32Bit;
    NRF_TIMER3->PRESCALER = 4; /* 16 MHz / 2^4 = 1 MHz */
    NRF_TIMER3->TASKS_CLEAR = 1;
    NRF_TIMER3->TASKS_START = 1;
}

uint32_t board_time_us(void)
{
    /* capture into CC[3]; the lock keeps a thread switch between capture and read from mixing callers */
    k_spinlock_key_t key = k_spin_lock(&g_lock);
    uint32_t t;
    NRF_TIMER3->TASKS_CAPTURE[3] = 1;
    t = NRF_TIMER3->CC[3];
    k_spin_unlock(&g_lock, key);
    return t;
}

/* ------------------------------------------------------------------------------------------ ADS1256 */

static const struct device *const g_spi = DEVICE_DT_GET(DT_NODELABEL(spi1));
static const struct gpio_dt_spec g_cs[2] = {
    GPIO_DT_SPEC_GET_BY_IDX(DT_PATH(zephyr_user), ads_cs_gpios, 0),
    GPIO_DT_SPEC_GET_BY_IDX(DT_PATH(zephyr_user), ads_cs_gpios, 1),
};
static const struct gpio_dt_spec g_drdy[2] = {
    GPIO_DT_SPEC_GET_BY_IDX(DT_PATH(zephyr_user), ads_drdy_gpios, 0),
    GPIO_DT_SPEC_GET_BY_IDX(DT_PATH(zephyr_user), ads_drdy_gpios, 1),
};
static const struct spi_config g_spi_cfg = {
    .frequency = 1000000u, /* SPIM offers 1 or 2 MHz; the ADS1256 allows 1.92 MHz at 7.68 MHz CLKIN */
    .operation = SPI_OP_MODE_MASTER | SPI_WORD_SET(8) | SPI_TRANSFER_MSB | SPI_MODE_CPHA,
};

static void ads_select(uint8_t adc, bool selected)
{
    gpio_pin_set_dt(&g_cs[adc], selected ? 0 : 1); /* CS is active low; the pins are declared active high */
}

static uint8_t ads_transfer(uint8_t out)
{
    uint8_t in = 0;
    struct spi_buf tx = {.buf = &out, .len = 1};
    struct spi_buf rx = {.buf = &in, .len = 1};
    struct spi_buf_set txs = {.buffers = &tx, .count = 1};
    struct spi_buf_set rxs = {.buffers = &rx, .count = 1};
    (void)spi_transceive(g_spi, &g_spi_cfg, &txs, &rxs);
    return in;
}

static bool ads_ready(uint8_t adc)
{
    return gpio_pin_get_dt(&g_drdy[adc]) == 0; /* DRDY low: a conversion is ready */
}

static void ads_delay_us(uint32_t us)
{
    k_busy_wait(us);
}

static const dx_ads1256_io_t g_ads_io = {ads_select, ads_transfer, ads_ready, ads_delay_us, board_time_us};

int board_read_adc(uint32_t sample_index, int32_t *values)
{
    ARG_UNUSED(sample_index);
    return g_ads_fault != 0 ? g_ads_fault : dx_ads1256_snapshot(&g_ads, values);
}

/* ------------------------------------------------------------------------------------------ host link */

size_t board_uart_write(const uint8_t *data, size_t len)
{
    k_spinlock_key_t key = k_spin_lock(&g_lock);
    uint32_t n = ring_buf_put(g_link == LINK_BLE ? &g_ble_tx : &g_usb_tx, data, len);
    k_spin_unlock(&g_lock, key);
    if (n > 0u) {
        if (g_link == LINK_BLE) {
            k_sem_give(&g_ble_tx_sem);
        } else {
            uart_irq_tx_enable(g_cdc);
        }
    }
    return n;
}

size_t board_uart_read(uint8_t *data, size_t max)
{
    k_spinlock_key_t key = k_spin_lock(&g_lock);
    uint32_t n = ring_buf_get(&g_rx, data, max);
    k_spin_unlock(&g_lock, key);
    return n;
}

static void take_commands(enum link from, const uint8_t *data, size_t len)
{
    k_spinlock_key_t key = k_spin_lock(&g_lock);
    if (g_link != from) {
        /* the other link takes over: what was queued for the old one is dropped (frames resync at 0x00) */
        ring_buf_reset(from == LINK_BLE ? &g_usb_tx : &g_ble_tx);
        g_link = from;
    }
    (void)ring_buf_put(&g_rx, data, len);
    k_spin_unlock(&g_lock, key);
}

static void cdc_isr(const struct device *dev, void *user_data)
{
    ARG_UNUSED(user_data);
    while (uart_irq_update(dev) && uart_irq_is_pending(dev)) {
        if (uart_irq_rx_ready(dev)) {
            uint8_t buf[64];
            int n = uart_fifo_read(dev, buf, sizeof(buf));
            if (n > 0) {
                take_commands(LINK_USB, buf, (size_t)n);
            }
        }
        if (uart_irq_tx_ready(dev)) {
            uint8_t buf[64];
            uint32_t n;
            k_spinlock_key_t key = k_spin_lock(&g_lock);
            n = ring_buf_peek(&g_usb_tx, buf, sizeof(buf));
            k_spin_unlock(&g_lock, key);
            if (n == 0u) {
                uart_irq_tx_disable(dev);
            } else {
                int sent = uart_fifo_fill(dev, buf, (int)n);
                key = k_spin_lock(&g_lock);
                (void)ring_buf_get(&g_usb_tx, NULL, sent > 0 ? (uint32_t)sent : 0u);
                k_spin_unlock(&g_lock, key);
            }
        }
    }
}

/* ---------------------------------------------------------------------------------------- GATT service */

static struct bt_uuid_128 g_service_uuid =
    BT_UUID_INIT_128(BT_UUID_128_ENCODE(DX_BLE_UUID_SERVICE_W32, DX_BLE_UUID_SUFFIX));
static struct bt_uuid_128 g_samples_uuid =
    BT_UUID_INIT_128(BT_UUID_128_ENCODE(DX_BLE_UUID_SAMPLES_W32, DX_BLE_UUID_SUFFIX));
static struct bt_uuid_128 g_commands_uuid =
    BT_UUID_INIT_128(BT_UUID_128_ENCODE(DX_BLE_UUID_COMMANDS_W32, DX_BLE_UUID_SUFFIX));

static void samples_ccc_changed(const struct bt_gatt_attr *attr, uint16_t value)
{
    ARG_UNUSED(attr);
    g_notify = value == BT_GATT_CCC_NOTIFY;
    k_sem_give(&g_ble_tx_sem);
}

static ssize_t commands_written(struct bt_conn *conn, const struct bt_gatt_attr *attr, const void *buf,
                                uint16_t len, uint16_t offset, uint8_t flags)
{
    ARG_UNUSED(conn);
    ARG_UNUSED(attr);
    ARG_UNUSED(offset);
    ARG_UNUSED(flags);
    take_commands(LINK_BLE, buf, len);
    return len;
}

BT_GATT_SERVICE_DEFINE(g_dx_service, BT_GATT_PRIMARY_SERVICE(&g_service_uuid),
                       BT_GATT_CHARACTERISTIC(&g_samples_uuid.uuid, BT_GATT_CHRC_NOTIFY, BT_GATT_PERM_NONE, NULL,
                                              NULL, NULL),
                       BT_GATT_CCC(samples_ccc_changed, BT_GATT_PERM_READ | BT_GATT_PERM_WRITE),
                       BT_GATT_CHARACTERISTIC(&g_commands_uuid.uuid,
                                              BT_GATT_CHRC_WRITE | BT_GATT_CHRC_WRITE_WITHOUT_RESP,
                                              BT_GATT_PERM_WRITE, NULL, commands_written, NULL), );

/* Advertising: the 128-bit service UUID fills most of the 31 bytes, so the name goes in the scan response. */
static const struct bt_data g_ad[] = {
    BT_DATA_BYTES(BT_DATA_FLAGS, (BT_LE_AD_GENERAL | BT_LE_AD_NO_BREDR)),
    BT_DATA_BYTES(BT_DATA_UUID128_ALL, BT_UUID_128_ENCODE(DX_BLE_UUID_SERVICE_W32, DX_BLE_UUID_SUFFIX)),
};
static char g_name[24];
static struct bt_data g_sd[1];

static void advertise(struct k_work *work)
{
    ARG_UNUSED(work);
    g_sd[0].type = BT_DATA_NAME_COMPLETE;
    g_sd[0].data_len = (uint8_t)strlen(g_name);
    g_sd[0].data = (const uint8_t *)g_name;
    (void)bt_le_adv_start(BT_LE_ADV_CONN, g_ad, ARRAY_SIZE(g_ad), g_sd, ARRAY_SIZE(g_sd));
}
static K_WORK_DEFINE(g_advertise_work, advertise);

static void connected(struct bt_conn *conn, uint8_t err)
{
    if (err != 0u) {
        return;
    }
    g_conn = bt_conn_ref(conn);
    /* 2M PHY and 251-byte link-layer packets; the central asks for the large ATT MTU itself */
    (void)bt_conn_le_phy_update(conn, BT_CONN_LE_PHY_PARAM_2M);
    (void)bt_conn_le_data_len_update(conn, BT_LE_DATA_LEN_PARAM_MAX);
}

static void disconnected(struct bt_conn *conn, uint8_t reason)
{
    ARG_UNUSED(reason);
    k_spinlock_key_t key = k_spin_lock(&g_lock);
    g_notify = false;
    if (g_link == LINK_BLE) {
        ring_buf_reset(&g_ble_tx);
        g_link = LINK_USB; /* the device keeps sampling: a reconnecting host sees the gap in the indices */
    }
    k_spin_unlock(&g_lock, key);
    if (g_conn == conn) {
        bt_conn_unref(conn);
        g_conn = NULL;
    }
    k_work_submit(&g_advertise_work);
}

BT_CONN_CB_DEFINE(g_conn_callbacks) = {
    .connected = connected,
    .disconnected = disconnected,
};

/* Drains the BLE ring into notifications of (MTU - 3) bytes, waiting for controller buffers. */
static void ble_tx_thread(void *a, void *b, void *c)
{
    static uint8_t chunk[BLE_CHUNK_MAX];
    ARG_UNUSED(a);
    ARG_UNUSED(b);
    ARG_UNUSED(c);
    for (;;) {
        struct bt_conn *conn = g_conn;
        uint32_t room, n;
        k_spinlock_key_t key;
        if (conn == NULL || !g_notify || ring_buf_is_empty(&g_ble_tx)) {
            (void)k_sem_take(&g_ble_tx_sem, K_MSEC(10));
            continue;
        }
        room = bt_gatt_get_mtu(conn) - 3u;
        if (room > sizeof(chunk)) {
            room = sizeof(chunk);
        }
        key = k_spin_lock(&g_lock);
        n = ring_buf_peek(&g_ble_tx, chunk, room);
        k_spin_unlock(&g_lock, key);
        if (bt_gatt_notify(conn, &g_dx_service.attrs[1], chunk, (uint16_t)n) == 0) {
            key = k_spin_lock(&g_lock);
            (void)ring_buf_get(&g_ble_tx, NULL, n);
            k_spin_unlock(&g_lock, key);
        } else {
            k_sleep(K_MSEC(1)); /* no buffer free: the link is saturated, the ring absorbs it */
        }
    }
}
K_THREAD_DEFINE(g_ble_tx_tid, 1536, ble_tx_thread, NULL, NULL, NULL, 5, 0, 0);

/* ---------------------------------------------------------------------------------------------- main */

int main(void)
{
    dx_device_config_t cfg = {0};
    bt_addr_le_t addr;
    size_t count = 1;
    int k;

    timer_init();
    for (k = 0; k < 2; k++) {
        (void)gpio_pin_configure_dt(&g_cs[k], GPIO_OUTPUT_ACTIVE); /* CS high: deselected */
        (void)gpio_pin_configure_dt(&g_drdy[k], GPIO_INPUT);
    }
    g_ads_fault = device_is_ready(g_spi) ? dx_ads1256_init(&g_ads, &g_ads_io, 2, 8, DX_ADS1256_DRATE_30000) : 1;

    if (device_is_ready(g_cdc) && usb_enable(NULL) == 0) {
        uart_irq_callback_set(g_cdc, cdc_isr);
        uart_irq_rx_enable(g_cdc);
    }
    if (bt_enable(NULL) == 0) {
        bt_id_get(&addr, &count);
        snprintf(g_name, sizeof(g_name), DX_BLE_NAME_PREFIX "%02X%02X", addr.a.val[1], addr.a.val[0]);
        (void)bt_set_name(g_name);
        k_work_submit(&g_advertise_work);
    }

    cfg.device_id = g_name[0] != '\0' ? g_name : "DexGlove";
    cfg.model = "dexumi-nrf52840-ads1256";
    cfg.channels = CHANNELS;
    cfg.resolution_bits = 24;
    cfg.sample_width = 3;
    cfg.max_batch = DX_MAX_BATCH;
    cfg.rate_mhz = 200000u;
    cfg.min_rate_mhz = 1000u;
    cfg.max_rate_mhz = 400000u;
    dx_device_init(&g_dev, &cfg);

    for (;;) {
        uint32_t idle;
        dx_ads1256_service(&g_ads);
        dx_device_poll(&g_dev);
        idle = dx_device_idle_us(&g_dev);
        if (idle > 200u) {
            k_usleep(100); /* let the BLE and USB threads run; DRDY comes every ~200 us while cycling */
        }
    }
    return 0;
}
