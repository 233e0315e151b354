"""benchmarks/gpu.py works before a GPU is there: its dry run trains through every part on the
CPU and writes both result files; without a GPU and without --dry-run it refuses at once."""

import json
import sys

import pytest

from conftest import REPO_ROOT

sys.path.insert(0, str(REPO_ROOT / "benchmarks"))
import gpu  # noqa: E402


def test_without_a_gpu_it_asks_for_the_dry_run(monkeypatch, capsys):
    monkeypatch.setattr("torch.cuda.is_available", lambda: False)
    with pytest.raises(SystemExit) as stopped:
        gpu.main([])
    assert stopped.value.code == 2
    assert "--dry-run" in capsys.readouterr().err


@pytest.mark.slow
def test_the_dry_run_fills_every_table(tmp_path):
    stem = gpu.main(["--dry-run", "--out", str(tmp_path)])
    results = json.loads(stem.with_suffix(".json").read_text())
    assert results["dry_run"] is True
    # bf16-mixed where this CPU has bf16 kernels; otherwise said so in the table
    ran = gpu.dry_run_plan().precisions
    assert set(ran) | set(results["skipped_precisions"]) == set(gpu.PRECISIONS)
    rows = {(row["precision"], row["workload"]) for row in results["overhead"]}
    assert rows == {(precision, "parity") for precision in ran}
    for row in results["overhead"]:
        for side in ("plain_epoch_s", "lightning_epoch_s", "seqlab_epoch_s"):
            assert row[side]["median"] > 0
    assert {row["precision"] for row in results["batch_sizes"]} == set(ran)
    assert all(row["samples_per_s"] > 0 for row in results["batch_sizes"])
    table = stem.with_suffix(".md").read_text()
    assert "Dry run on the CPU" in table
    if "bf16-mixed" in ran:
        assert "| bf16-mixed | parity |" in table
    else:
        assert "bf16-mixed: not run, this CPU has no bf16 kernels." in table
