"""`dexumi calibrate` without --headless: the Qt calibration wizard."""

from __future__ import annotations

import argparse
import sys


def run(args: argparse.Namespace) -> int:
    from apps.display import require_display

    require_display("use --headless (with --sim or --port PORT)")
    from PySide6 import QtWidgets

    from apps.wizard.options import check_outputs, options_from_args
    from apps.wizard.window import CalibrationWizard

    if args.out is not None:
        check_outputs(args.out, args.force)
    app = QtWidgets.QApplication.instance() or QtWidgets.QApplication(sys.argv[:1])
    wizard = CalibrationWizard(options_from_args(args), args.out, args.force, auto=bool(args.sim))
    wizard.resize(1100, 760)
    wizard.show()
    if args.sim:
        wizard.start_all()
    code = app.exec()
    wizard.shutdown()
    return int(code)
