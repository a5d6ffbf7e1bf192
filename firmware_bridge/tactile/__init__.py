"""Tactile boards: DexUMI's FSR frames and XHand tactile frames (formats in docs/protocol.md)."""
