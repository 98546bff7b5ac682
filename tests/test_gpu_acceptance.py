"""The GPU acceptance script (bench/gpu_acceptance.py) end to end, at its small size on the CPU,
so that it is known to work before a GPU ever sees it."""

from __future__ import annotations

import json

import pytest
import torch

from tests.commands import run_script


@pytest.mark.slow
def test_the_acceptance_script_runs_end_to_end_at_its_small_size_on_the_cpu(tmp_path):
    out = tmp_path / "report"
    result = run_script("bench/gpu_acceptance.py", "--device", "cpu", "--size", "small", "--out", str(out), timeout=900)
    assert result.returncode == 0, result.stdout + result.stderr
    report = json.loads((out / "report.json").read_text())
    names = [check["name"] for check in report["checks"]]
    assert names == [
        "versions",
        "pytest -m gpu",
        "training",
        "resume onto captured_update=false",
        "resume onto replay_on_device=false",
        "resume onto --device cpu",
        "bench/agent_throughput.py",
        "bench/train_throughput.py",
    ]
    assert report["passed"] and all(check["ok"] for check in report["checks"])
    checks = {check["name"]: check for check in report["checks"]}
    assert checks["training"]["figures"]["distinct_losses_after_capture"] >= 3
    assert "replay_on_device=false" in checks["resume onto replay_on_device=false"]["details"]  # the other memory
    throughput = checks["bench/train_throughput.py"]["figures"]
    assert throughput["arcade_dqn_best"] > 0 and throughput["cleanrl_style"] > 0
    text = (out / "report.md").read_text()
    assert text.startswith("# GPU acceptance: passed") and "| training | pass |" in text


def test_a_gpu_that_is_not_there_is_refused_in_one_line_before_anything_runs(tmp_path):
    missing = f"cuda:{torch.cuda.device_count()}" if torch.cuda.is_available() else "cuda"  # one past the last
    result = run_script("bench/gpu_acceptance.py", "--device", missing, "--out", str(tmp_path / "r"), timeout=120)
    assert result.returncode == 2 and f"device '{missing}' asked for" in result.stderr, result.stderr
    assert result.stderr.count("\n") == 1 and result.stderr.startswith("error:")
    assert not (tmp_path / "r").exists()
