"""The README's main job: the demo trains to >= 80 % test accuracy and writes its plots."""
import json

from lablib.demo import train_showcase


def test_demo_reaches_80_percent_and_writes_plots(tmp_path):
    summary = train_showcase(tmp_path, seed=0, progress=False)
    assert summary["test_accuracy"] >= 0.80
    assert summary["epochs_run"] == len(summary["history"]["loss"])
    for name in ["training_curves", "loss", "accuracy", "learning_rate"]:
        png = (tmp_path / f"{name}.png").read_bytes()
        assert png.startswith(b"\x89PNG") and len(png) > 5_000
    saved = json.loads((tmp_path / "history.json").read_text())
    assert saved["test_accuracy"] == summary["test_accuracy"]
    # The exponential schedule runs per iteration: the rate at the start of each epoch falls.
    lrs = saved["history"]["lr"]
    assert all(b < a for a, b in zip(lrs, lrs[1:]))
