"""``agentsim index ...`` and ``agentsim memory ...`` end to end (embedded store, classical encoder)."""

from __future__ import annotations

import subprocess
import sys

from memory_fixtures import REPO, make_labelled_folder

from agentsim.cli.main import main


def _store(tmp_path) -> list[str]:
    return ["--data-dir", str(tmp_path / "mem"), "--prefix", "cli"]


def test_index_images_is_idempotent_and_searchable(tmp_path, capsys):
    folder = make_labelled_folder(tmp_path / "gallery", per_kind=2)
    assert main(["index", "images", str(folder), "--encoder", "classical", "--no-progress", *_store(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "4 images: 4 added" in out and "classical-v1" in out
    assert main(["index", "images", str(folder), "--encoder", "classical", "--no-progress", *_store(tmp_path)]) == 0
    assert "0 added, 0 updated, 4 already indexed" in capsys.readouterr().out
    assert main(["memory", "stats", *_store(tmp_path)]) == 0
    stats = capsys.readouterr().out
    assert "cli-images" in stats and "4 records" in stats and "space=cosine" in stats
    assert main(["memory", "search", "--text", "round enhancing mass", "-k", "2", "--encoder", "classical",
                 *_store(tmp_path)]) == 0
    assert "mass lesion" in capsys.readouterr().out


def test_encoder_mismatch_exits_with_clear_error(tmp_path, capsys):
    folder = make_labelled_folder(tmp_path / "gallery", per_kind=1)
    assert main(["index", "images", str(folder), "--encoder", "classical", "--no-progress", *_store(tmp_path)]) == 0
    capsys.readouterr()
    code = main(["index", "images", str(folder), "--encoder", "efficientnet-lite0", "--no-progress", *_store(tmp_path)])
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("agentsim: error:") and "classical-v1" in err and "not comparable" in err


def test_corrupt_image_is_named_and_exit_code_nonzero(tmp_path, capsys):
    folder = make_labelled_folder(tmp_path / "gallery", per_kind=1)
    (folder / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0" + b"\0" * 50)
    code = main(["index", "images", str(folder), "--encoder", "classical", "--no-progress", *_store(tmp_path)])
    captured = capsys.readouterr()
    assert code == 1 and "2 added" in captured.out and "broken.jpg" in captured.err


def test_index_scenarios_and_clear(tmp_path, capsys):
    assert main(["index", "scenarios", "--encoder", "classical", "--no-progress", *_store(tmp_path)]) == 0
    assert "cases" in capsys.readouterr().out
    assert main(["memory", "clear", "all", "--yes", *_store(tmp_path)]) == 0
    assert "cli-images: deleted" in capsys.readouterr().out
    assert main(["memory", "stats", *_store(tmp_path)]) == 0
    assert "empty" in capsys.readouterr().out


def test_help_does_not_import_torch_or_chromadb():
    code = ("import sys; from agentsim.cli.main import build_parser; build_parser(); "
            "print('torch' in sys.modules, 'chromadb' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, check=True).stdout
    assert out.split() == ["False", "False"]
