"""The two-worker recipe of docs/distributed.md runs as written: its two
commands, taken verbatim from the page, with only the ports and the
checkpoint directory replaced, as two real processes on 127.0.0.1."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import portpicker
import tensorflow as tf

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
HEADING = "### Recipe: two workers on one machine"
DOC_CHECKPOINT_DIR = "/tmp/km_two_workers"


def recipe_commands() -> list[str]:
    """The ```bash blocks of the recipe's section (up to the next heading)."""
    with open(os.path.join(REPO, "docs", "distributed.md")) as handle:
        page = handle.read()
    assert HEADING in page, f"docs/distributed.md lost {HEADING!r}"
    section = re.split(r"\n#{1,3} ", page.split(HEADING, 1)[1])[0]
    return re.findall(r"```bash\n(.+?)\n```", section, re.S)


def test_the_recipe_commands_name_the_same_cluster_and_directory():
    commands = recipe_commands()
    assert len(commands) == 2
    for index, command in enumerate(commands):
        assert re.findall(r"127\.0\.0\.1:(\d+)", command) == ["12345", "12346"]
        assert f'"task": {{"type": "worker", "index": {index}}}' in command
        assert f"--checkpoint_dir={DOC_CHECKPOINT_DIR} " in command
        assert "--strategy=multi_worker_mirrored" in command


def test_the_two_worker_recipe_runs_as_documented(tmp_path):
    commands = recipe_commands()
    ports = {
        doc_port: str(portpicker.pick_unused_port())
        for doc_port in ("12345", "12346")
    }
    checkpoint_dir = tmp_path / "ckpt"
    scratch = tmp_path / "tmp"  # the system temp dir of both workers
    scratch.mkdir()
    # `python3` in the commands is this interpreter.
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "python3").symlink_to(sys.executable)
    env = dict(
        os.environ,
        PATH=f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}",
        PYTHONPATH=REPO,
        TF_CPP_MIN_LOG_LEVEL="2",
        TMPDIR=str(scratch),
    )
    max_steps = int(re.search(r"--max_steps=(\d+)", commands[0]).group(1))
    processes = []
    for command in commands:
        for doc_port, port in ports.items():
            command = command.replace(
                f"127.0.0.1:{doc_port}", f"127.0.0.1:{port}"
            )
        command = command.replace(
            f"--checkpoint_dir={DOC_CHECKPOINT_DIR} ",
            f"--checkpoint_dir={checkpoint_dir} ",
        )
        processes.append(
            subprocess.Popen(
                ["bash", "-c", command],
                cwd=REPO,
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
            )
        )
    try:
        outputs = [process.communicate(timeout=240)[0] for process in processes]
    finally:
        for process in processes:  # never leave a worker behind
            if process.poll() is None:
                process.kill()
                process.wait()
    for process, output in zip(processes, outputs):
        assert process.returncode == 0, output[-3000:]
    chief, worker = outputs
    # The chief's checkpoint at --max_steps, and only the chief's files.
    latest = tf.train.latest_checkpoint(str(checkpoint_dir))
    assert latest == str(checkpoint_dir / f"model.ckpt-{max_steps}"), latest
    assert all(
        name == "checkpoint"
        or name.startswith(("model.ckpt-", "events.out", "training_log"))
        for name in os.listdir(checkpoint_dir)
    )
    # The worker says where its part of each save goes, and it is gone.
    assert (
        f"Saving checkpoints for {max_steps} into a scratch directory under "
        f"{scratch} (this worker's part of the collective save, deleted at "
        f"once; the chief writes {checkpoint_dir / 'model.ckpt'})"
    ) in worker, worker[-3000:]
    assert os.listdir(scratch) == []
    # Both end on the same step, loss (averaged over the workers) and weights.
    done = [
        re.search(r"done global_step=(\d+) loss=(\S+) weights_digest=(\S+)", o)
        for o in outputs
    ]
    assert all(done), outputs[0][-2000:]
    assert done[0].groups() == done[1].groups()
    assert done[0].group(1) == str(max_steps)
    assert "Saving checkpoints for" in chief and "scratch" not in chief
