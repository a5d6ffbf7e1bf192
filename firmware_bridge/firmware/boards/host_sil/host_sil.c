/* Software-in-the-loop device: the firmware core compiled for the host, a synthetic ADC, and a
 * pseudo-terminal as the UART. Prints the pty's path as its first line of stdout, then runs the device
 * until killed (or --seconds passes). Build: see firmware_bridge/firmware/build.py (target host_sil).
 *
 *   host_sil [--channels N] [--width W] [--rate HZ] [--max-rate HZ] [--time-offset US] [--seconds S]
 *            [--path TTY | --fd N]
 *
 * --time-offset starts the device clock at that value (e.g. 4294467296: the clock wraps after 0.5 s). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "dx_board.h"
#include "dx_device.h"
#include "dx_synth_adc.h"

static int g_fd = -1;
static int g_tx_blocked;
static uint32_t g_channels = 16;
static uint64_t g_t0_ns;
static uint32_t g_time_offset;
static dx_device_t g_dev;

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

uint32_t board_time_us(void)
{
    return (uint32_t)((now_ns() - g_t0_ns) / 1000u) + g_time_offset;
}

int board_read_adc(uint32_t sample_index, int32_t *values)
{
    dx_synth_sample(sample_index, g_channels, values);
    return 0;
}

size_t board_uart_write(const uint8_t *data, size_t len)
{
    ssize_t n = write(g_fd, data, len);
    if (n < 0) {
        g_tx_blocked = 1;
        return 0;
    }
    if ((size_t)n < len) {
        g_tx_blocked = 1;
    }
    return (size_t)n;
}

size_t board_uart_read(uint8_t *data, size_t max)
{
    ssize_t n = read(g_fd, data, max);
    return n > 0 ? (size_t)n : 0u;
}

static int open_pty(void)
{
    struct termios tio;
    int master = posix_openpt(O_RDWR | O_NOCTTY);
    const char *name;
    int slave;
    if (master < 0 || grantpt(master) != 0 || unlockpt(master) != 0 || (name = ptsname(master)) == NULL) {
        perror("host_sil: pty");
        exit(1);
    }
    /* Keep the slave open (a master whose slave is closed reads EIO) and make it raw: no echo of the
     * host's commands back into the device, no newline translation of binary frames. */
    slave = open(name, O_RDWR | O_NOCTTY);
    if (slave < 0 || tcgetattr(slave, &tio) != 0) {
        perror("host_sil: slave");
        exit(1);
    }
    cfmakeraw(&tio);
    tcsetattr(slave, TCSANOW, &tio);
    printf("%s\n", name);
    fflush(stdout);
    return master;
}

static uint32_t arg_u32(const char *s)
{
    return (uint32_t)strtoul(s, NULL, 0);
}

int main(int argc, char **argv)
{
    dx_device_config_t cfg;
    double rate_hz = 1000.0, max_rate_hz = 8000.0, seconds = 0.0;
    const char *path = NULL;
    int fd = -1;
    int i;
    uint64_t deadline = 0;

    memset(&cfg, 0, sizeof cfg);
    cfg.sample_width = 3;
    for (i = 1; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--channels") == 0) {
            g_channels = arg_u32(argv[i + 1]);
        } else if (strcmp(argv[i], "--width") == 0) {
            cfg.sample_width = (uint8_t)arg_u32(argv[i + 1]);
        } else if (strcmp(argv[i], "--rate") == 0) {
            rate_hz = atof(argv[i + 1]);
        } else if (strcmp(argv[i], "--max-rate") == 0) {
            max_rate_hz = atof(argv[i + 1]);
        } else if (strcmp(argv[i], "--time-offset") == 0) {
            g_time_offset = arg_u32(argv[i + 1]);
        } else if (strcmp(argv[i], "--seconds") == 0) {
            seconds = atof(argv[i + 1]);
        } else if (strcmp(argv[i], "--path") == 0) {
            path = argv[i + 1];
        } else if (strcmp(argv[i], "--fd") == 0) {
            fd = (int)arg_u32(argv[i + 1]);
        } else {
            fprintf(stderr, "host_sil: unknown option %s\n", argv[i]);
            return 2;
        }
    }
    if (i < argc) {
        fprintf(stderr, "host_sil: option %s needs a value\n", argv[i]);
        return 2;
    }
    if (g_channels < 1u || g_channels > DX_MAX_CHANNELS) {
        fprintf(stderr, "host_sil: --channels must be 1..%u\n", (unsigned)DX_MAX_CHANNELS);
        return 2;
    }
    if (fd >= 0) {
        g_fd = fd;
        printf("fd:%d\n", fd);
        fflush(stdout);
    } else if (path != NULL) {
        g_fd = open(path, O_RDWR | O_NOCTTY);
        if (g_fd < 0) {
            perror(path);
            return 1;
        }
        printf("%s\n", path);
        fflush(stdout);
    } else {
        g_fd = open_pty();
    }
    fcntl(g_fd, F_SETFL, fcntl(g_fd, F_GETFL) | O_NONBLOCK);
    signal(SIGPIPE, SIG_IGN);

    cfg.device_id = "SIL-0001";
    cfg.model = "dexumi-host-sil";
    cfg.channels = (uint8_t)g_channels;
    cfg.resolution_bits = 24;
    cfg.max_batch = DX_MAX_BATCH;
    cfg.rate_mhz = (uint32_t)(rate_hz * 1000.0 + 0.5);
    cfg.min_rate_mhz = 1000;
    cfg.max_rate_mhz = (uint32_t)(max_rate_hz * 1000.0 + 0.5);
    g_t0_ns = now_ns();
    dx_device_init(&g_dev, &cfg);
    if (seconds > 0.0) {
        deadline = g_t0_ns + (uint64_t)(seconds * 1e9);
    }

    for (;;) {
        struct pollfd pfd;
        struct timespec ts;
        uint32_t idle;
        dx_device_poll(&g_dev);
        if (deadline != 0u && now_ns() >= deadline) {
            break;
        }
        pfd.fd = g_fd;
        pfd.events = POLLIN;
        pfd.revents = 0;
        if (g_tx_blocked) {
            /* the link is full: wait for room (or a command), but no longer than a sample tick */
            g_tx_blocked = 0;
            pfd.events = POLLIN | POLLOUT;
            idle = 100u;
        } else {
            idle = dx_device_idle_us(&g_dev);
            if (idle == 0u) {
                continue;
            }
            if (idle > 1000u) {
                idle = 1000u;
            }
        }
        ts.tv_sec = 0;
        ts.tv_nsec = (long)idle * 1000L;
        if (ppoll(&pfd, 1, &ts, NULL) < 0 && errno != EINTR) {
            perror("host_sil: poll");
            return 1;
        }
        if (pfd.revents & (POLLHUP | POLLERR)) {
            /* nobody has the other end open: do not spin */
            nanosleep(&ts, NULL);
        }
    }
    fprintf(stderr, "host_sil: frames %lu samples %lu lost %lu frame_errors %lu\n",
            (unsigned long)g_dev.frames_sent, (unsigned long)g_dev.samples_sent,
            (unsigned long)g_dev.lost_total, (unsigned long)g_dev.frame_errors);
    return 0;
}
