"""The Gradio app: Watch, Play as doctor, Play as patient, Replay.

Every tab is a thin shell over :class:`agentsim.live.LiveEpisode` (episodes) and
:func:`agentsim.api.load_results` (replay); no episode logic lives here. Each browser session
keeps its own :class:`Session` in ``gr.State``, so two tabs never see each other's episode.
"""

from __future__ import annotations

import asyncio
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agentsim.agents.human import DOCTOR_HELP
from agentsim.backends import Settings, settings_from_env
from agentsim.errors import AgentsimError
from agentsim.live import LiveEpisode
from agentsim.participants import ToolCall
from agentsim.results import EpisodeResult
from agentsim.scenario import LoadedScenario, default_scenarios_dir, load_scenarios
from agentsim.tools import RetrievalQuery, RetrievalTool
from agentsim.ui.render import message_to_chat, transcript_to_chat, verdict_markdown
from agentsim.ui.served import ServedFiles

# Events a person triggers but that are not part of the documented client API.
_HIDDEN: dict[str, Any] = {"api_visibility": "undocumented"}

CSS = """
.verdict {min-height: 2em}
footer {display: none !important}
"""


@dataclass
class AppContext:
    """What the app is started with: default model settings, cases, optional memory, folders."""

    settings: Settings = field(default_factory=Settings)
    scenarios_dir: Path = field(default_factory=default_scenarios_dir)
    retrieval: RetrievalTool | None = None
    runs_dir: Path = Path("runs/app")
    upload_dir: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="agentsim-uploads-")))
    extra_allowed_paths: list[str] = field(default_factory=list)
    cases: dict[str, LoadedScenario] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.cases:
            self.cases = {ls.scenario.id: ls for ls in load_scenarios(self.scenarios_dir)}
        #: Images outside the allowed folders (memory hits) are shown from copies in the upload folder.
        self.served = ServedFiles([Path(p) for p in allowed_paths(self)], self.upload_dir / "served")

    def case(self, case_id: str | None) -> LoadedScenario:
        if not case_id or case_id not in self.cases:
            raise AgentsimError(f"pick a case first (unknown case {case_id!r})")
        return self.cases[case_id]


@dataclass
class Session:
    """One browser session's state."""

    live: LiveEpisode | None = None
    chat: list[dict[str, Any]] = field(default_factory=list)
    replay: list[EpisodeResult] = field(default_factory=list)

    def stop(self) -> None:
        if self.live is not None and self.live.running:
            self.live.stop()


def case_label(ls: LoadedScenario) -> str:
    """Dropdown label: id, specialty, modalities, image marker."""
    s = ls.scenario
    mods = sorted({im.modality for im in s.images})
    return f"{s.id} · {s.specialty}" + (f" · {', '.join(mods)} [images]" if mods else "") + f" · {s.split}"


def filter_cases(ctx: AppContext, text: str = "", specialty: str = "All", images_only: bool = False) -> list:
    """Dropdown choices (label, id) matching a free-text filter, a specialty and the image flag."""
    text = (text or "").lower().strip()
    out = []
    for cid, ls in sorted(ctx.cases.items()):
        s = ls.scenario
        if specialty not in ("", "All", None) and s.specialty != specialty:
            continue
        if images_only and not s.images:
            continue
        hay = " ".join([s.id, s.title, s.specialty, s.opening_line, *[im.modality for im in s.images]]).lower()
        if text and text not in hay:
            continue
        out.append((case_label(ls), cid))
    return out


def _settings(ctx: AppContext, backend: str, base_url: str, doctor: str, patient: str, judge: str,
              max_turns: float, seed: float) -> Settings:
    if backend == "offline":
        return Settings(backend="offline", max_turns=int(max_turns), seed=int(seed))
    return settings_from_env(backend="openai", model=doctor or None, base_url=base_url or None,
                             patient_model=patient or None, judge_model=judge or None,
                             max_turns=int(max_turns), seed=int(seed))


def _gr_error(exc: Exception) -> Exception:
    import gradio as gr

    return gr.Error(str(exc), print_exception=False)


def _new_live(ctx: AppContext, sess: Session | None, human: str | None, case_id: str | None,
              models: tuple) -> LiveEpisode:
    """Stop the session's previous episode and build (not start) a new one from the form values."""
    if sess is not None:
        sess.stop()
    try:
        loaded = ctx.case(case_id)
        settings = _settings(ctx, *models)
    except AgentsimError as exc:
        raise _gr_error(exc) from None
    return LiveEpisode(loaded, settings, human=human, retrieval=ctx.retrieval)


def _drain(ctx: AppContext, session: Session, until_turn: bool = True) -> None:
    """Pull events of the running episode into the session's chat."""
    assert session.live is not None
    for ev in session.live.next_events(until_turn=until_turn):
        if ev.kind == "message" and ev.message is not None:
            session.chat.extend(message_to_chat(ev.message, ctx.served))


def _status(session: Session) -> str:
    live = session.live
    if live is None:
        return ""
    if live.result is not None or (not live.running and live.error is not None):
        return verdict_markdown(live.result, live.error)
    if live.waiting_for_human is not None:
        return "**Your turn.**"
    return "Running…"


def build_app(ctx: AppContext | None = None):
    """Build the Gradio Blocks app (not launched)."""
    import gradio as gr

    ctx = ctx or AppContext()
    specialties = ["All", *sorted({ls.scenario.specialty for ls in ctx.cases.values()})]
    all_choices = filter_cases(ctx)
    first = all_choices[0][1] if all_choices else None
    d = ctx.settings
    test_names = _catalog_names()

    def model_panel():
        with gr.Accordion("Models (offline engine by default)", open=False):
            backend = gr.Radio(["offline", "openai"], value=d.backend, label="Backend",
                               info="openai = any OpenAI-compatible server; the API key is read from the "
                                    "server's OPENAI_API_KEY environment variable and never shown here")
            base_url = gr.Textbox(label="Server URL", value=(d.doctor.base_url if d.doctor else "") or "",
                                  placeholder="http://127.0.0.1:8000/v1")
            with gr.Row():
                doctor = gr.Textbox(label="Doctor model", value=d.doctor.model if d.doctor else "")
                patient = gr.Textbox(label="Patient model", value=d.patient.model if d.patient else "")
                judge = gr.Textbox(label="Judge model", value=d.judge.model if d.judge else "")
            with gr.Row():
                max_turns = gr.Number(label="Max turns", value=d.max_turns, precision=0, minimum=1, maximum=200)
                seed = gr.Number(label="Seed", value=d.seed, precision=0)
        return [backend, base_url, doctor, patient, judge, max_turns, seed]

    def case_picker(prefix: str):
        with gr.Row():
            text = gr.Textbox(label="Search cases", placeholder="e.g. chest pain, MRI, pediatrics", scale=2)
            spec = gr.Dropdown(specialties, value="All", label="Specialty", scale=1)
            imgs = gr.Checkbox(label="Only cases with images", value=False, scale=1)
        case = gr.Dropdown(all_choices, value=first, label="Case", filterable=True, elem_id=f"{prefix}-case")
        for comp in (text, spec, imgs):
            comp.change(lambda t, s, i: gr.Dropdown(choices=filter_cases(ctx, t, s, i)), [text, spec, imgs], case,
                        **_HIDDEN)
        return case

    with gr.Blocks(title="agentsim") as demo:
        gr.Markdown("# agentsim\nSimulated diagnostic encounters: a doctor agent interviews a patient agent, "
                    "orders tests and commits to a diagnosis, which is scored.")
        session = gr.State(None)

        # --- Watch -------------------------------------------------------------------------------
        with gr.Tab("Watch"):
            w_case = case_picker("watch")
            w_models = model_panel()
            with gr.Row():
                w_run = gr.Button("Run episode", variant="primary", elem_id="watch-run")
                w_stop = gr.Button("Stop", variant="stop", elem_id="watch-stop")
            w_chat = gr.Chatbot(label="Episode", height=560, elem_id="watch-chat")
            w_verdict = gr.Markdown(elem_classes="verdict", elem_id="watch-verdict")

            def watch(case_id, *rest):
                *models, sess = rest
                sess = Session(live=_new_live(ctx, sess, None, case_id, tuple(models)).start())
                yield [], "Running…", sess
                for ev in sess.live.next_events(until_turn=False):
                    if ev.kind == "message" and ev.message is not None:
                        sess.chat.extend(message_to_chat(ev.message, ctx.served))
                        yield sess.chat, "Running…", sess
                yield sess.chat, _status(sess), sess

            w_run.click(watch, [w_case, *w_models, session], [w_chat, w_verdict, session], api_name="watch")
            w_stop.click(lambda s: s.stop() if s else None, [session], None, api_name="stop")

        # --- Play as doctor ----------------------------------------------------------------------
        with gr.Tab("Play as doctor"):
            d_case = case_picker("doctor")
            d_models = model_panel()
            d_start = gr.Button("Start as doctor", variant="primary", elem_id="doctor-start")
            d_info = gr.Markdown()
            d_chat = gr.Chatbot(label="Consultation", height=460, elem_id="doctor-chat")
            d_status = gr.Markdown(elem_classes="verdict")
            with gr.Row():
                d_question = gr.Textbox(label="Ask the patient", placeholder="Where exactly is the pain?", scale=4)
                d_ask = gr.Button("Ask", scale=1)
            with gr.Row():
                d_test = gr.Dropdown(test_names, label="Order an examination or test", allow_custom_value=True,
                                     filterable=True, scale=4)
                d_order = gr.Button("Order", scale=1)
            with gr.Accordion("Search memory for similar cases and images", open=False):
                with gr.Row():
                    d_query = gr.Textbox(label="Findings to search with", scale=3)
                    d_image_id = gr.Textbox(label="Case image id (optional)", scale=1)
                    d_search = gr.Button("Search", scale=1)
                d_upload = gr.File(label="Or upload your own image (PNG, JPEG or DICOM; max 10 MB)",
                                   file_types=[".png", ".jpg", ".jpeg", ".dcm"], type="filepath")
                d_upload_btn = gr.Button("Search with uploaded image")
                d_hits = gr.Gallery(label="Similar images", columns=4, height=220)
                d_hits_text = gr.Markdown()
            with gr.Row():
                d_dx = gr.Textbox(label="Final diagnosis", scale=2)
                d_diff = gr.Textbox(label="Differential (comma-separated, most likely first)", scale=2)
                d_diagnose = gr.Button("Diagnose", variant="primary", scale=1)
            with gr.Row():
                d_save = gr.Button("Save transcript")
                d_file = gr.File(label="Transcript (episodes.jsonl)", interactive=False)

            def start_doctor(case_id, *rest):
                *models, sess = rest
                live = _new_live(ctx, sess, "doctor", case_id, tuple(models))
                v = live.views.doctor
                info = (f"**Patient:** {v.demographics}  \n**Task:** {v.objective}  \n"
                        + (f"**Images on file:** {', '.join(f'{i.id} ({i.modality})' for i in v.images)}  \n"
                           if v.images else "") + f"<small>{DOCTOR_HELP}</small>")
                sess = Session(live=live.start())
                _drain(ctx, sess)
                return sess.chat, info, _status(sess), sess

            def _doctor_step(sess: Session | None, call: ToolCall):
                if sess is None or sess.live is None or not sess.live.running:
                    raise _gr_error(AgentsimError("start a consultation first"))
                if sess.live.waiting_for_human is None:
                    raise _gr_error(AgentsimError("please wait: the episode is not waiting for you"))
                sess.live.act_as_doctor(call)
                _drain(ctx, sess)
                return sess.chat, _status(sess), sess

            def ask(q, sess):
                if not (q or "").strip():
                    raise _gr_error(AgentsimError("type a question first"))
                return (*_doctor_step(sess, ToolCall(id="human", name="ask_patient", arguments={"question": q})), "")

            def order(test, sess):
                if not (test or "").strip():
                    raise _gr_error(AgentsimError("pick or type a test first"))
                return _doctor_step(sess, ToolCall(id="human", name="order_test", arguments={"test": test}))

            def search(q, image_id, sess):
                return _doctor_step(sess, ToolCall(id="human", name="search_similar_cases",
                                                   arguments={"query_text": q or "", "image_id": image_id or ""}))

            def diagnose(dx, diff, sess):
                if not (dx or "").strip():
                    raise _gr_error(AgentsimError("type a diagnosis first"))
                differential = [x.strip() for x in (diff or "").split(",") if x.strip()]
                return _doctor_step(sess, ToolCall(id="human", name="diagnose",
                                                   arguments={"diagnosis": dx, "differential": differential}))

            def search_upload(file, sess):
                from agentsim.ui.uploads import check_upload

                if not file:
                    raise _gr_error(AgentsimError("choose an image file first"))
                try:
                    path = check_upload(file, ctx.upload_dir)
                except AgentsimError as exc:
                    raise _gr_error(exc) from None
                if ctx.retrieval is None:
                    return [], "Image memory is not enabled: start the app with `--memory` to search by image."
                exclude = sess.live.loaded.scenario.id if sess and sess.live else ""
                result = asyncio.run(ctx.retrieval.search(RetrievalQuery(image_path=str(path),
                                                                         exclude_case_id=exclude, k=8)))
                gallery = [(served, f"{h.label or h.caption} ({h.score:.2f})") for h in result.images
                           if h.path and (served := ctx.served(h.path))]
                return gallery, result.render()

            def save(sess):
                from agentsim.api import save_result

                if sess is None or sess.live is None or sess.live.result is None:
                    raise _gr_error(AgentsimError("finish the consultation (diagnose) before saving"))
                save_result(sess.live.result, ctx.runs_dir)
                out = Path(tempfile.mkdtemp(dir=ctx.upload_dir)) / "episodes.jsonl"
                save_result(sess.live.result, out.parent)
                return str(out)

            d_start.click(start_doctor, [d_case, *d_models, session], [d_chat, d_info, d_status, session],
                          api_name="start_doctor")
            d_ask.click(ask, [d_question, session], [d_chat, d_status, session, d_question], api_name="doctor_ask")
            d_question.submit(ask, [d_question, session], [d_chat, d_status, session, d_question], **_HIDDEN)
            d_order.click(order, [d_test, session], [d_chat, d_status, session], api_name="doctor_order")
            d_search.click(search, [d_query, d_image_id, session], [d_chat, d_status, session],
                           api_name="doctor_search")
            d_upload_btn.click(search_upload, [d_upload, session], [d_hits, d_hits_text], api_name="upload_search")
            d_diagnose.click(diagnose, [d_dx, d_diff, session], [d_chat, d_status, session],
                             api_name="doctor_diagnose")
            d_save.click(save, [session], [d_file], api_name="save_transcript")

        # --- Play as patient ---------------------------------------------------------------------
        with gr.Tab("Play as patient"):
            p_case = case_picker("patient")
            p_models = model_panel()
            p_start = gr.Button("Start as patient", variant="primary", elem_id="patient-start")
            with gr.Row():
                with gr.Column(scale=1):
                    p_card = gr.Markdown(label="Your case card")
                with gr.Column(scale=2):
                    p_chat = gr.Chatbot(label="Consultation", height=460, elem_id="patient-chat")
            p_status = gr.Markdown(elem_classes="verdict")
            with gr.Row():
                p_answer = gr.Textbox(label="Your answer", scale=4)
                p_send = gr.Button("Answer", variant="primary", scale=1)

            def start_patient(case_id, *rest):
                from agentsim.agents.patient import render_facts

                *models, sess = rest
                live = _new_live(ctx, sess, "patient", case_id, tuple(models))
                card = ("### You are the patient\nAnswer the doctor's questions in your own words, only from "
                        "these facts. Say you don't know when the card does not say.\n\n"
                        + render_facts(live.views.patient).replace("\n", "  \n")
                        + f"  \n\n**You came in saying:** {live.views.patient.opening_line}")
                sess = Session(live=live.start())
                _drain(ctx, sess)
                return sess.chat, card, _status(sess), sess

            def answer(text, sess):
                if sess is None or sess.live is None or not sess.live.running:
                    raise _gr_error(AgentsimError("start a consultation first"))
                if sess.live.waiting_for_human is None:
                    raise _gr_error(AgentsimError("please wait: the doctor has not asked anything yet"))
                sess.live.answer_as_patient(text or "I'm not sure.")
                _drain(ctx, sess)
                return sess.chat, _status(sess), sess, ""

            p_start.click(start_patient, [p_case, *p_models, session], [p_chat, p_card, p_status, session],
                          api_name="start_patient")
            p_send.click(answer, [p_answer, session], [p_chat, p_status, session, p_answer], api_name="patient_answer")
            p_answer.submit(answer, [p_answer, session], [p_chat, p_status, session, p_answer], **_HIDDEN)

        # --- Replay ------------------------------------------------------------------------------
        with gr.Tab("Replay"):
            with gr.Row():
                r_dir = gr.Textbox(label="Run directory (or episodes.jsonl path)", scale=3)
                r_file = gr.File(label="…or upload an episodes.jsonl", file_types=[".jsonl"], type="filepath", scale=2)
            with gr.Row():
                r_fail = gr.Checkbox(label="Failures only", value=False)
                r_load = gr.Button("Load", variant="primary")
            r_pick = gr.Dropdown([], label="Episode", filterable=True)
            with gr.Row():
                r_prev = gr.Button("◀ Previous")
                r_next = gr.Button("Next ▶")
            r_summary = gr.Markdown()
            r_chat = gr.Chatbot(label="Transcript", height=520, elem_id="replay-chat")
            r_verdict = gr.Markdown(elem_classes="verdict")

            def _label(i: int, r: EpisodeResult) -> str:
                mark = "✓" if r.correct else ("⚠" if r.error else "✗")
                return f"{mark} {r.case_id} · trial {r.trial} · {r.diagnosis or 'no diagnosis'}"

            def load_run(path, file, failures_only, sess):
                from agentsim.api import load_results

                src = file or path
                if not src:
                    raise _gr_error(AgentsimError("give a run directory or upload an episodes.jsonl"))
                try:
                    results = load_results(src)
                except (OSError, ValueError) as exc:
                    raise _gr_error(AgentsimError(f"{src}: cannot read episodes: {exc}")) from None
                sess = sess or Session()
                sess.replay = results
                shown = [(i, r) for i, r in enumerate(results) if not failures_only or not r.correct]
                choices = [(_label(i, r), i) for i, r in shown]
                n_ok = sum(r.correct for r in results)
                summary = (f"**{len(results)} episodes**, {n_ok} correct ({n_ok / max(len(results), 1):.0%}); "
                           f"showing {len(shown)}")
                return gr.Dropdown(choices=choices, value=choices[0][1] if choices else None), summary, sess

            def show(index, sess):
                if sess is None or index is None or not sess.replay:
                    return [], ""
                r = sess.replay[int(index)]
                return transcript_to_chat(r.transcript.messages, ctx.served), verdict_markdown(r)

            def step(index, failures_only, delta, sess):
                if sess is None or not sess.replay:
                    return None
                idx = [i for i, r in enumerate(sess.replay) if not failures_only or not r.correct]
                if not idx:
                    return None
                pos = idx.index(int(index)) if index is not None and int(index) in idx else 0
                return idx[(pos + delta) % len(idx)]

            r_load.click(load_run, [r_dir, r_file, r_fail, session], [r_pick, r_summary, session],
                         api_name="replay_load")
            r_fail.change(load_run, [r_dir, r_file, r_fail, session], [r_pick, r_summary, session], **_HIDDEN)
            r_pick.change(show, [r_pick, session], [r_chat, r_verdict], api_name="replay_show")
            r_prev.click(lambda i, f, s: step(i, f, -1, s), [r_pick, r_fail, session], r_pick, **_HIDDEN)
            r_next.click(lambda i, f, s: step(i, f, 1, s), [r_pick, r_fail, session], r_pick, **_HIDDEN)

    demo.queue(default_concurrency_limit=8)
    return demo


def _catalog_names() -> list[str]:
    try:
        from agentsim.catalog import default_catalog

        return [e.name for e in default_catalog().entries]
    except AgentsimError:
        return []


def allowed_paths(ctx: AppContext) -> list[str]:
    """Folders the app may serve files from: case images, uploads, memory images."""
    return [str(ctx.scenarios_dir.resolve()), str(ctx.upload_dir.resolve()), *ctx.extra_allowed_paths]
