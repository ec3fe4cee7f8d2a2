"""The adapter registry, options, and the ``import`` command function."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import typer

from crossview.errors import BadInputError
from crossview.scene.model import Scene
from crossview.sources.adapters import (
    Adapter,
    SceneSource,
    get_adapter,
    import_dataset,
    list_adapters,
    register_adapter,
)
from crossview.sources.adapters.commands import import_cmd
from tests.sources.adapter_world import assert_valid, toy_world


def test_builtin_adapters_are_registered_with_a_layout_docstring() -> None:
    names = list_adapters()
    assert {"colmap", "messytable", "wildrgbd"} <= set(names)
    for n in ("colmap", "messytable", "wildrgbd"):
        cls = get_adapter(n)
        assert cls.name == n and "Layout read" in (cls.__doc__ or "")


def test_unknown_format_lists_the_valid_ones(tmp_path: Path) -> None:
    with pytest.raises(BadInputError, match=r"unknown dataset format 'egoexo'.*colmap"):
        import_dataset("egoexo", tmp_path, tmp_path / "store")


def test_missing_source_names_the_path(tmp_path: Path) -> None:
    with pytest.raises(BadInputError) as info:
        import_dataset("colmap", tmp_path / "absent", tmp_path / "store")
    assert info.value.file == str(tmp_path / "absent")


@register_adapter("toy-test")
class _ToyAdapter(Adapter):
    """Layout read: a folder whose subfolders are scenes; a subfolder named bad* is broken."""

    def scan(self, src: Path) -> list[SceneSource]:
        return [SceneSource(d.name, d) for d in sorted(src.iterdir())]

    def load(self, source: SceneSource) -> Scene:
        if source.scene_id.startswith("bad"):
            raise BadInputError("camera file is missing", file=source.path / "cams.json")
        scene = toy_world()
        scene.scene_id, scene.source = source.scene_id, "toy-test"
        return scene


def test_a_new_adapter_plugs_in_and_bad_scenes_are_skipped(tmp_path: Path) -> None:
    for name in ("a", "bad1", "b"):
        (tmp_path / "src" / name).mkdir(parents=True)
    report = import_dataset("toy-test", tmp_path / "src", tmp_path / "store", progress=False)
    assert report.written == ["a", "b"]
    assert report.skipped == {
        "bad1": f"{tmp_path / 'src' / 'bad1' / 'cams.json'}: camera file is missing"
    }
    assert_valid(tmp_path / "store")
    assert not list((tmp_path / "store").glob(".*"))
    again = import_dataset(
        "toy-test", tmp_path / "src", tmp_path / "store", overwrite=True, progress=False
    )
    assert again.written == ["a", "b"]


def _app() -> typer.Typer:
    app = typer.Typer(add_completion=False)

    @app.callback()
    def _root() -> None:
        """root"""

    app.command("import")(import_cmd)
    return app


def test_import_command(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    for name in ("a", "bad1"):
        (tmp_path / "src" / name).mkdir(parents=True)
    args = ["import", "toy-test", str(tmp_path / "src"), "--out", str(tmp_path / "store")]
    _app()(args=args, standalone_mode=False)
    assert "1 scene(s) written" in capsys.readouterr().out
    with pytest.raises(BadInputError, match="expected KEY=VALUE"):
        _app()(args=[*args, "--option", "oops"], standalone_mode=False)
    with pytest.raises(BadInputError, match="unknown option 'x' for format toy-test"):
        _app()(args=[*args, "--option", "x=1"], standalone_mode=False)
    (tmp_path / "only_bad" / "bad2").mkdir(parents=True)
    bad = ["import", "toy-test", str(tmp_path / "only_bad"), "--out", str(tmp_path / "s2")]
    # click returns an Exit's code when not in standalone mode; cli.main passes it on
    assert _app()(args=bad, standalone_mode=False) == 2


def test_importing_the_command_module_is_light() -> None:
    code = (
        "import sys, crossview.sources.adapters.commands; "
        "heavy = [m for m in ('cv2', 'scipy', 'PIL', 'torch', 'sam2', 'rich.progress') "
        "if m in sys.modules]; print(heavy); assert not heavy"
    )
    src = str(Path(__file__).resolve().parents[2] / "src")
    r = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env={"PYTHONPATH": src, "PATH": ""},
    )
    assert r.returncode == 0, r.stdout + r.stderr
