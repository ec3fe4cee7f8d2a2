"""Fixtures: a tiny random Qwen3-VL saved to disk and a tiny native dataset (built offline)."""

from __future__ import annotations

import pytest

pytest.importorskip("torch")
pytest.importorskip("transformers")


@pytest.fixture(scope="session")
def backbone_dir(tmp_path_factory):
    from crossview.model.testing import build_tiny_backbone

    return build_tiny_backbone(tmp_path_factory.mktemp("tiny_qwen3vl"))


@pytest.fixture(scope="session")
def dataset_dir(tmp_path_factory):
    from crossview.model.testing import write_tiny_dataset

    return write_tiny_dataset(tmp_path_factory.mktemp("tiny_ds"), n_items=6)


SMALL = {"num_object_tokens": 4, "art_target_tokens": 8, "contrast_dim": 16, "ocva_heads": 4}


@pytest.fixture
def built(backbone_dir):
    """A fresh tiny CrossViewer and its processor (K=4)."""
    import torch

    from crossview.model import build_crossviewer

    torch.manual_seed(0)
    model, proc = build_crossviewer(str(backbone_dir), **SMALL)
    return model.eval(), proc


@pytest.fixture(scope="session")
def examples(dataset_dir):
    from crossview.model import CrossViewDataset

    ds = CrossViewDataset(dataset_dir)
    return [ds[i] for i in range(len(ds))]
