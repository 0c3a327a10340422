"""Every write failure is one line: bad output paths exit 2, a machine that refuses the write
(disk full, file-size limit, read-only folder) exits 5; good checkpoints are kept."""
import errno
import resource
import sys

import pytest
import torch

import modeguard.atomic
from modeguard.errors import OutputPathError, RunWriteError
from modeguard.train.checkpoint import load_checkpoint, save_checkpoint

from .helpers import assert_one_line, cli, run_child



def test_sample_to_a_folder(finished_run, tmp_path, capsys):
    (tmp_path / "dir.npy").mkdir()
    code, _, err = cli(capsys, "sample", finished_run, "-o", tmp_path / "dir.npy")
    assert_one_line(code, err, 2, "dir.npy", "folder")


def test_sample_under_a_file(finished_run, tmp_path, capsys):
    (tmp_path / "file").write_text("x")
    code, _, err = cli(capsys, "sample", finished_run, "-o", tmp_path / "file" / "x.npy")
    assert_one_line(code, err, 2, "x.npy", "is a file, not a folder")


def test_report_into_a_missing_folder(finished_run, tmp_path, capsys):
    code, _, err = cli(capsys, "report", finished_run, "-o", tmp_path / "no" / "such" / "r.html")
    if code != 0:  # either the folders are made, or one line says why not
        assert_one_line(code, err, 2, "r.html")


def _file_size_limit(nbytes):
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    resource.setrlimit(resource.RLIMIT_FSIZE, (nbytes, hard))
    return soft, hard


def test_file_size_limit_keeps_the_last_good_checkpoint(tmp_path):
    """Seen: ENOSPC gave 'RuntimeError: [enforce fail at inline_container.cc:672]' and 30 lines."""
    good = tmp_path / "step-00000002.pt"
    save_checkpoint(good, {"step": 2, "G": {"w": torch.ones(4)}})
    before = good.read_bytes()
    limits = _file_size_limit(4096)
    try:
        with pytest.raises(RunWriteError) as e:
            save_checkpoint(tmp_path / "step-00000004.pt", {"step": 4, "G": {"w": torch.ones(10_000)}})
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, limits)
    assert str(e.value).startswith(f"cannot write checkpoint {tmp_path / 'step-00000004.pt'}: File too large")
    assert str(e.value).endswith(f"(last good checkpoint: {good} kept)")
    assert e.value.exit_code == 5 and "\n" not in str(e.value)
    assert good.read_bytes() == before and load_checkpoint(good)["step"] == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == [good.name]  # no temp file left


@pytest.mark.parametrize("code_,fragment", [(errno.ENOSPC, "No space left on device"),
                                            (errno.EROFS, "Read-only file system"),
                                            (errno.EACCES, "Permission denied")])
def test_machine_refusals_are_environment_failures(tmp_path, monkeypatch, code_, fragment):
    def refuse(*args, **kwargs):
        raise OSError(code_, fragment)

    monkeypatch.setattr(modeguard.atomic.os, "replace", refuse)
    with pytest.raises(RunWriteError, match=fragment) as e:
        save_checkpoint(tmp_path / "step-00000002.pt", {"step": 2, "G": {}})
    assert e.value.exit_code == 5


def test_a_checkpoint_path_under_a_file_is_a_path_error(tmp_path):
    (tmp_path / "f").write_text("x")
    with pytest.raises(OutputPathError):
        save_checkpoint(tmp_path / "f" / "step-00000002.pt", {"step": 2, "G": {}})


def test_train_under_a_file_size_limit_is_one_line_exit_5(tmp_path, tiny_yaml):
    out = tmp_path / "run"
    limit = lambda: resource.setrlimit(resource.RLIMIT_FSIZE, (6000, resource.getrlimit(resource.RLIMIT_FSIZE)[1]))
    code, _, err = run_child("train", "--config", tiny_yaml, "--steps", 4, "--ckpt-every", 2, "--out", out,
                             preexec_fn=limit)
    assert_one_line(code, err, 5, "File too large")


@pytest.mark.skipif(sys.platform != "linux", reason="read-only folders as Linux has them")
def test_train_out_under_a_read_only_folder(tmp_path, tiny_yaml, capsys):
    parent = tmp_path / "ro"
    parent.mkdir()
    parent.chmod(0o500)
    try:
        if (parent / "probe").touch() is None and (parent / "probe").exists():
            pytest.skip("this user (root) writes into read-only folders")
    except PermissionError:
        pass
    try:
        code, _, err = cli(capsys, "train", "--config", tiny_yaml, "--steps", 2, "--out", parent / "run")
        assert_one_line(code, err, 5, "Permission denied")
    finally:
        parent.chmod(0o700)


def test_train_out_on_a_read_only_file_system(tmp_path, tiny_yaml, capsys, monkeypatch):
    """The read-only case for any user (root writes into chmod-ed folders): mkdir says EROFS."""
    real_mkdir = type(tmp_path).mkdir
    ro = tmp_path / "ro"

    def mkdir(self, *args, **kwargs):
        if ro in (self, *self.parents):
            raise OSError(errno.EROFS, "Read-only file system", str(self))
        return real_mkdir(self, *args, **kwargs)

    monkeypatch.setattr(type(tmp_path), "mkdir", mkdir)
    code, _, err = cli(capsys, "train", "--config", tiny_yaml, "--steps", 2, "--out", ro / "run")
    assert_one_line(code, err, 5, "Read-only file system")
