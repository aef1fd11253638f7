"""Images outside the app's allowed folders (memory hits) are shown from served copies."""

from __future__ import annotations

import os

from agentsim.participants import Message
from agentsim.ui.render import message_to_chat
from agentsim.ui.served import ServedFiles


def _png(path):
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("L", (8, 8), 90).save(path)
    return path


def test_files_under_a_root_are_served_in_place_others_are_copied(tmp_path):
    inside = _png(tmp_path / "allowed" / "case.png")
    outside = _png(tmp_path / "archive" / "mri.png")
    served = ServedFiles([tmp_path / "allowed"], tmp_path / "allowed" / "served")
    assert served(inside) == str(inside.resolve())
    copy = served(outside)
    assert copy and copy.startswith(str((tmp_path / "allowed" / "served").resolve()))
    assert open(copy, "rb").read() == outside.read_bytes()
    # Same file, same copy; a changed file gets a fresh copy; a missing one is not shown.
    assert served(outside) == copy
    _png_bytes = outside.read_bytes()
    outside.write_bytes(_png_bytes + b"\0")
    os.utime(outside, ns=(1, 1))
    assert served(outside) != copy
    assert served(tmp_path / "nope.png") is None


def test_memory_hits_outside_the_allowed_folders_render_as_served_copies(tmp_path):
    outside = _png(tmp_path / "archive" / "glioma_1.png")
    served = ServedFiles([tmp_path / "allowed"], tmp_path / "allowed" / "served")
    msg = Message(role="tool", content="1 similar image", metadata={
        "tool": "search_similar_cases",
        "result": {"images": [{"path": str(outside), "label": "glioma", "score": 0.91},
                              {"path": str(tmp_path / "gone.png"), "label": "x", "score": 0.5}]}})
    chat = message_to_chat(msg, served)
    files = [m["content"] for m in chat if isinstance(m["content"], dict)]
    assert len(files) == 1 and "glioma (0.91)" == files[0]["alt_text"]
    assert files[0]["path"].startswith(str((tmp_path / "allowed" / "served").resolve()))
