"""The encoder board's firmware: a portable C99 core (``core/``), board files (``boards/``), C tests
(``tests/``) and ``build.py``, which builds the host SIL program, the QEMU image and the Cortex-M0 objects."""
