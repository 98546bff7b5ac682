"""``pytest -m gpu`` cannot come out green by skipping: without a CUDA GPU it fails in one line."""

from __future__ import annotations

import subprocess
import sys

import pytest
import torch

from tests.commands import ROOT
from tests.conftest import selects_gpu_tests


@pytest.mark.parametrize(
    ("expression", "selects"),
    [("gpu", True), ("slow or gpu", True), ("not slow and not gpu", False), ("not gpu", False), ("slow", False)],
)
def test_which_mark_expressions_select_the_gpu_tests(expression, selects):
    assert selects_gpu_tests(expression) == selects


def test_asking_for_the_gpu_tests_without_a_gpu_fails_in_one_line():
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-m", "gpu", "--collect-only", "-q", "tests/test_captured_update.py"],
        check=False,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    said = (result.stdout + result.stderr).strip()
    if torch.cuda.is_available():
        assert result.returncode == 0 and "test_captured_and_eager" in said, said
    else:
        assert result.returncode != 0 and said.count("\n") == 0 and "no CUDA GPU" in said, said
