"""``agentsim play``: role-play in the terminal as the doctor or the patient."""

from __future__ import annotations

import argparse
import sys

from agentsim.cli.common import add_model_options, settings_from_args


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``play`` command."""
    p = sub.add_parser("play", help="role-play in the terminal as the doctor or the patient",
                       description="Take the doctor's or the patient's seat; the other seats are filled by agents.")
    p.add_argument("--as", dest="seat", choices=["doctor", "patient"], required=True)
    p.add_argument("--scenario", "-s", required=True, help="case id or case file")
    add_model_options(p)
    p.add_argument("--max-turns", type=int, default=20)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default="runs/play", help="folder for episodes.jsonl (default: runs/play)")
    p.set_defaults(func=handle)


def handle(args: argparse.Namespace, input_fn=input) -> int:
    """Run the session; ``input_fn`` is injectable for tests."""
    from agentsim.agents.human import DOCTOR_HELP, parse_doctor_command
    from agentsim.agents.patient import render_facts
    from agentsim.api import save_result
    from agentsim.cli.run import format_message
    from agentsim.live import LiveEpisode
    from agentsim.scenario import resolve_scenario

    loaded = resolve_scenario(args.scenario)
    settings = settings_from_args(args, max_turns=args.max_turns, seed=args.seed)
    live = LiveEpisode(loaded, settings, human=args.seat)
    if args.seat == "patient":
        print("You are the patient. Answer the doctor's questions from this card:\n")
        print(render_facts(live.views.patient))
        print(f"\nYour opening complaint: {live.views.patient.opening_line}\n")
    else:
        print(f"You are the doctor. Patient: {live.views.doctor.demographics}. {live.views.doctor.objective}")
        print(DOCTOR_HELP + "\n")
    live.start()
    while True:
        for ev in live.next_events():
            if ev.kind == "message" and ev.message is not None:
                if not (args.seat == "doctor" and ev.message.role == "doctor"):
                    print(format_message(ev.message), flush=True)
            elif ev.kind == "done":
                return _finish(live, args, save_result)
            elif ev.kind == "your_turn":
                break
        try:
            line = input_fn("you> ")
        except EOFError:
            live.stop()
            continue
        if args.seat == "doctor":
            while True:
                try:
                    live.act_as_doctor(parse_doctor_command(line))
                    break
                except ValueError as exc:
                    print(exc)
                    try:
                        line = input_fn("you> ")
                    except EOFError:
                        live.stop()
                        break
        else:
            live.answer_as_patient(line)


def _finish(live, args, save_result) -> int:
    res = live.wait()
    if res is None:
        print(f"agentsim: error: episode failed: {live.error}", file=sys.stderr)
        return 1
    path = save_result(res, args.out)
    print("-" * 60)
    print(f"Diagnosis: {res.diagnosis}  |  correct: {res.correct_diagnosis}  ->  "
          f"{'CORRECT' if res.correct else 'INCORRECT'}")
    print(f"Turns {res.turns}, tests {len(res.tests_ordered)}, clinical cost ${res.cost.clinical_usd:,.0f}")
    print(f"Transcript appended to {path}")
    return 0
