"""The Gradio app driven headless with gradio_client (each mode), uploads and credentials."""

from __future__ import annotations

import json
import socket

import pytest

pytestmark = pytest.mark.server


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def app_url(tmp_path_factory):
    from agentsim.ui.app import AppContext, allowed_paths, build_app

    ctx = AppContext(runs_dir=tmp_path_factory.mktemp("runs"))
    demo = build_app(ctx)
    port = _free_port()
    demo.launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True,
                allowed_paths=allowed_paths(ctx))
    yield f"http://127.0.0.1:{port}/", ctx
    demo.close()


def _client(url):
    from gradio_client import Client

    return Client(url, verbose=False)


def _texts(chat) -> str:
    return " ".join(m["content"] if isinstance(m["content"], str) else json.dumps(m["content"]) for m in chat)


MODEL_DEFAULTS = ("offline", "", "", "", "", 20, 0)


def test_watch_returns_finished_transcript(app_url):
    url, _ = app_url
    chat, verdict = _client(url).predict("gs-appendicitis-01", *MODEL_DEFAULTS, api_name="/watch")
    assert len(chat) >= 3
    assert "**Doctor:**" in _texts(chat) and "**Patient:**" in _texts(chat)
    assert "Correct diagnosis" in verdict and "Acute appendicitis" in verdict


def test_human_doctor_session_reaches_verdict(app_url):
    url, ctx = app_url
    c = _client(url)
    chat, info, status = c.predict("gs-appendicitis-01", *MODEL_DEFAULTS, api_name="/start_doctor")
    assert "22-year-old" in info and "Your turn" in status
    chat, status, _ = c.predict("Where did the pain start?", api_name="/doctor_ask")
    assert "**Patient:**" in _texts(chat)
    chat, status = c.predict("CBC", api_name="/doctor_order")
    assert "WBC 14.8" in _texts(chat)
    chat, status = c.predict("Acute appendicitis", "Mesenteric adenitis", api_name="/doctor_diagnose")
    assert "Correct" in status
    saved = c.predict(api_name="/save_transcript")
    rec = json.loads(open(saved).read().splitlines()[-1])
    assert rec["correct"] is True and rec["doctor"] == "human"
    assert (ctx.runs_dir / "episodes.jsonl").exists()


def test_human_patient_session_reaches_verdict(app_url):
    url, _ = app_url
    c = _client(url)
    chat, card, status = c.predict("gs-appendicitis-01", *MODEL_DEFAULTS, api_name="/start_patient")
    assert "22-year-old man" in card and "appendicitis" not in card.lower()
    for _ in range(40):
        if "Your turn" not in status:
            break
        chat, status, _ = c.predict("I don't know.", api_name="/patient_answer")
    assert "Correct diagnosis" in status


def test_sessions_are_isolated(app_url):
    url, _ = app_url
    a, b = _client(url), _client(url)
    a.predict("gs-appendicitis-01", *MODEL_DEFAULTS, api_name="/start_doctor")
    with pytest.raises(Exception, match="start a consultation first"):
        b.predict("Hello?", api_name="/doctor_ask")


def test_bad_upload_is_rejected_visibly(app_url, tmp_path):
    from gradio_client import handle_file

    url, _ = app_url
    bad = tmp_path / "scan.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n" + b"garbage" * 100)
    with pytest.raises(Exception, match="corrupt or unsupported"):
        _client(url).predict(handle_file(str(bad)), api_name="/upload_search")
    txt = tmp_path / "notes.png"
    txt.write_text("hello")
    with pytest.raises(Exception, match="not a PNG, JPEG or DICOM"):
        _client(url).predict(handle_file(str(txt)), api_name="/upload_search")


def test_replay_loads_run_and_filters_failures(app_url, tmp_path):
    from agentsim.api import save_result
    from agentsim.results import EpisodeResult, Transcript

    for i, ok in enumerate([True, False, True]):
        save_result(EpisodeResult(case_id=f"c{i}", correct=ok, diagnosis="x",
                                  transcript=Transcript(case_id=f"c{i}")), tmp_path)
    url, _ = app_url
    c = _client(url)
    pick, summary = c.predict(str(tmp_path), None, True, api_name="/replay_load")
    assert "3 episodes" in summary and "showing 1" in summary


def test_wrong_credentials_rejected(tmp_path):
    import requests

    from agentsim.ui.app import AppContext, build_app

    demo = build_app(AppContext(runs_dir=tmp_path))
    port = _free_port()
    demo.launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True,
                auth=[("alice", "s3cret")])
    try:
        base = f"http://127.0.0.1:{port}"
        bad = requests.post(f"{base}/login", data={"username": "alice", "password": "nope"}, timeout=10)
        assert bad.status_code in (400, 401)
        good = requests.post(f"{base}/login", data={"username": "alice", "password": "s3cret"}, timeout=10)
        assert good.status_code == 200
        from gradio_client import Client

        with pytest.raises(Exception, match="(?i)login|auth|401|403"):
            Client(base + "/", verbose=False)
        ok = Client(base + "/", auth=("alice", "s3cret"), verbose=False)
        assert "/watch" in str(ok.view_api(print_info=False, return_format="dict"))
    finally:
        demo.close()


def test_auth_parsing(tmp_path):
    from agentsim.errors import ConfigError
    from agentsim.ui.auth import parse_auth

    f = tmp_path / "creds"
    f.write_text("# team\nbob:pw1\n\ncarol:pw:2\n")
    assert parse_auth("alice:x", str(f)) == [("alice", "x"), ("bob", "pw1"), ("carol", "pw:2")]
    assert parse_auth() is None
    with pytest.raises(ConfigError, match="user:password"):
        parse_auth("nopassword")


def test_a_memory_image_outside_the_allowed_folders_is_served_from_a_copy(app_url, tmp_path):
    import urllib.error
    import urllib.request

    from PIL import Image

    url, ctx = app_url
    outside = tmp_path / "archive" / "scan.png"
    outside.parent.mkdir()
    Image.new("L", (8, 8), 40).save(outside)

    def status(path: str) -> int:
        try:
            with urllib.request.urlopen(f"{url}gradio_api/file={path}", timeout=10) as r:
                return r.status
        except urllib.error.HTTPError as exc:
            return exc.code

    # The original is refused (Gradio serves allowed folders only); the app's copy is served.
    assert status(str(outside)) >= 400
    assert status(ctx.served(outside)) == 200
