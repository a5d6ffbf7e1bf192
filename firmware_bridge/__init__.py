"""Everything that speaks to the exoskeleton's microcontroller: wire protocols, decoders, transports,
the device emulator and the firmware sources."""
