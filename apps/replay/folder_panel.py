"""Replay's episode list: the folder's episodes (the rows of `dexumi ls`) in a dock; double-click or Enter
opens one, the context menu edits outcome and notes or discards (atomic, logged edits). `L` shows/hides it."""

from __future__ import annotations

from pathlib import Path

from PySide6 import QtCore, QtWidgets

from apps.widgets.episode_table import EpisodeTable


def attach(win) -> EpisodeTable:
    """Dock an `EpisodeTable` of the replayed folder on the window's left; returns it."""
    folder = Path(win.files[0]).parent if win.files else Path(".")
    table = EpisodeTable(folder)
    dock = QtWidgets.QDockWidget("Episodes", win)
    dock.setObjectName("episodes")
    dock.setWidget(table)
    dock.setFeatures(
        QtWidgets.QDockWidget.DockWidgetFeature.DockWidgetClosable
        | QtWidgets.QDockWidget.DockWidgetFeature.DockWidgetMovable
    )
    win.addDockWidget(QtCore.Qt.DockWidgetArea.LeftDockWidgetArea, dock)
    table.refresh()

    def open_path(path: str) -> None:
        p = Path(path)
        names = [Path(f).name for f in win.files]
        if p.name not in names:
            win.files = sorted([*win.files, p], key=lambda x: Path(x).name)
            names = [Path(f).name for f in win.files]
        win.open_episode(names.index(p.name))

    def edited(path: str) -> None:
        p = Path(path)
        if not p.name.endswith(".h5"):  # discarded: no longer replayable from the folder's list
            win.files = [f for f in win.files if Path(f).name.split(".")[0] != p.name.split(".")[0]] or win.files
        elif p.name not in [Path(f).name for f in win.files]:
            win.files = sorted([*win.files, p], key=lambda x: Path(x).name)
        win.statusBar().showMessage(f"saved: {p.name}", 5000)

    table.open_requested.connect(open_path)
    table.edited.connect(edited)
    table.failed.connect(lambda m: win.statusBar().showMessage(m, 10000))
    win.folder_dock, win.folder_table = dock, table
    return table
