"""Session setup shared by every test module."""

from __future__ import annotations

import contextlib
import importlib.util


def pytest_configure(config) -> None:
    # Choose MuJoCo's headless GL backend (EGL, else OSMesa) before any test module imports
    # mujoco: the backend is fixed at mujoco's first import. Without a working backend the
    # simulator tests fail with the library's own message naming the packages to install.
    if importlib.util.find_spec("mujoco") is not None:
        from crossview.errors import CrossviewError
        from crossview.sources.sim.render import select_gl_backend

        with contextlib.suppress(CrossviewError):
            select_gl_backend()
