"""`python -m firmware_bridge.emulator`: the emulator without the dexumi command around it."""

import logging
import sys

from firmware_bridge.emulator.cli import main

logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
sys.exit(main())
