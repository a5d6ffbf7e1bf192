/* GATT service of the dexumi encoder board. The same UUIDs are in docs/firmware.md and in the host's
 * firmware_bridge/transports/ble_uuids.py (tests/test_firmware_build.py checks all three agree).
 *
 *   service   d3c10001-5b1e-4d8a-9f0e-6a7de0a1b2c3
 *   samples   d3c10002-5b1e-4d8a-9f0e-6a7de0a1b2c3   notify: the protocol v1 byte stream, MTU-3 bytes each
 *   commands  d3c10003-5b1e-4d8a-9f0e-6a7de0a1b2c3   write / write without response: v1 command frames
 */
#ifndef DX_BLE_UUIDS_H
#define DX_BLE_UUIDS_H

#define DX_BLE_UUID_SERVICE_STR "d3c10001-5b1e-4d8a-9f0e-6a7de0a1b2c3"
#define DX_BLE_UUID_SAMPLES_STR "d3c10002-5b1e-4d8a-9f0e-6a7de0a1b2c3"
#define DX_BLE_UUID_COMMANDS_STR "d3c10003-5b1e-4d8a-9f0e-6a7de0a1b2c3"

/* The fields of each UUID, for Zephyr's BT_UUID_128_ENCODE(w32, w1, w2, w3, w48). */
#define DX_BLE_UUID_SUFFIX 0x5b1e, 0x4d8a, 0x9f0e, 0x6a7de0a1b2c3ULL
#define DX_BLE_UUID_SERVICE_W32 0xd3c10001
#define DX_BLE_UUID_SAMPLES_W32 0xd3c10002
#define DX_BLE_UUID_COMMANDS_W32 0xd3c10003

#define DX_BLE_NAME_PREFIX "DexGlove-" /* advertised name: prefix + last 2 address bytes in hex */

#endif
