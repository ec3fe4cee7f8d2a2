"""The one atomic-write primitive: a failed write leaves the old file and no temporary."""

from __future__ import annotations

from pathlib import Path

import pytest

from crossview.files import atomic_write, temp_beside


def test_atomic_write_replaces_on_success_and_keeps_the_old_file_on_failure(
    tmp_path: Path,
) -> None:
    path = tmp_path / "out.jsonl"
    with atomic_write(path) as fh:
        fh.write("one\n")
        assert not path.exists()  # nothing visible until the rename
    assert path.read_text() == "one\n"
    with pytest.raises(RuntimeError), atomic_write(path) as fh:
        fh.write("half")
        raise RuntimeError("killed")
    assert path.read_text() == "one\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.jsonl"]
    with atomic_write(path, "wb", fsync=True) as fh:
        fh.write(b"\x00\x01")
    assert path.read_bytes() == b"\x00\x01"
    assert temp_beside(path).parent == tmp_path and temp_beside(path).name.startswith(".out")
