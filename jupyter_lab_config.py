"""JupyterLab on this project, with jupytext: `make lab` and tests/test_lab.py start it with

    python -m jupyterlab --config=jupyter_lab_config.py [--ip=...] [--port=...] [other options]

* the server's root is the repository (this file's folder), whatever the working directory;
* it listens on 127.0.0.1 only (``--ip`` on the command line overrides it);
* jupytext's contents manager serves the chapters' sources ``notebooks/*.py`` (percent format)
  as notebooks, and saves an edited notebook back to its ``.py`` file. The jupytext package also
  enables it as a server extension of its own; naming the class here does not depend on that
  extension being enabled in the environment;
* a double click in the file browser opens a ``.py`` file as a notebook ("Jupytext Notebook")
  instead of in the text editor (the setting ``jupytext-config set-default-viewer python``
  writes into a user's settings; here an application-level override of this server only, see
  ``_app_settings_dir``); right-click, Open With, Editor still shows the plain text;
* it starts as root too (containers, CI), which the server otherwise refuses;
* no browser is started on Linux without a display (Python's ``webbrowser`` would otherwise
  take over the terminal with a text-mode browser); the server prints its URL with the token.
"""
import json
import os
import sys
from pathlib import Path

c = get_config()  # noqa: F821 (defined by traitlets when it loads this file)

ROOT = Path(__file__).resolve().parent
# Settings defaults for this server: a .py file (file type "python") opens as a notebook.
SETTING_OVERRIDES = {
    "@jupyterlab/docmanager-extension:plugin": {
        "defaultViewers": {"python": "Jupytext Notebook"},
    },
}


def _app_settings_dir() -> str:
    """A settings folder holding the application's own overrides plus SETTING_OVERRIDES.

    JupyterLab reads setting defaults from ``overrides.json`` in its application settings
    folder (``<sys.prefix>/share/jupyter/lab/settings``). Rather than write into the
    environment, this server gets a folder of its own in Jupyter's per-user runtime folder,
    rewritten at every start, with whatever overrides the environment has and ours on top of
    them where the environment sets nothing.
    """
    from jupyter_core.paths import jupyter_runtime_dir
    from jupyterlab.commands import get_app_dir

    try:  # the environment's overrides (overrides.d/*.json and overrides.json), as JupyterLab merges them
        from jupyterlab_server.settings_utils import _get_overrides

        overrides, _ = _get_overrides(os.path.join(get_app_dir(), "settings"))
    except Exception:  # noqa: BLE001 (a private helper: without it, only ours)
        overrides = {}
    for plugin, settings in SETTING_OVERRIDES.items():
        mine = overrides.setdefault(plugin, {})
        for key, value in settings.items():
            if isinstance(value, dict):
                mine[key] = {**value, **mine.get(key, {})}
            else:
                mine.setdefault(key, value)
    folder = Path(jupyter_runtime_dir()) / "thinbridge-lab" / "settings"
    folder.mkdir(parents=True, exist_ok=True)
    tmp = folder / f"overrides.json.{os.getpid()}"  # then renamed: a server starting meanwhile reads a whole file
    tmp.write_text(json.dumps(overrides, indent=1) + "\n", encoding="utf-8")
    os.replace(tmp, folder / "overrides.json")
    return str(folder)


c.ServerApp.root_dir = str(ROOT)
c.ServerApp.ip = "127.0.0.1"
c.ServerApp.contents_manager_class = "jupytext.AsyncTextFileContentsManager"
c.ServerApp.open_browser = not sys.platform.startswith("linux") or bool(
    os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))
c.LabApp.app_settings_dir = _app_settings_dir()
# Containers and CI machines often run as root; the server refuses to start as root without this.
c.ServerApp.allow_root = True
