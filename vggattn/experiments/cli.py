"""`python -m vggattn experiments list | status | run NAME... [--force]`."""

from __future__ import annotations

import argparse
import sys

import torch

from .. import paths
from .registry import SPECS, get_spec, spec_names
from .runner import run_experiment
from .store import current_hash, read_record, refresh_command, result_folder, status


def add_parser(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "experiments",
        help="the experiment store: list, status, run the named experiments whose results the notebooks show",
        description="Every training result a notebook shows is a named experiment, run once by `run NAME` and "
        "committed in experiments/NAME/ with its provenance; the notebooks load it.",
    )
    actions = parser.add_subparsers(dest="action", required=True, metavar="{list,status,run}")
    actions.add_parser("list", help="the named experiments, what each trains and which notebooks show it")
    actions.add_parser("status", help="per experiment: fresh, stale (its spec changed) or missing")
    run = actions.add_parser("run", help="train experiments and store their results (resumable: rerun to continue)")
    run.add_argument("names", nargs="*", metavar="NAME", help=f"one or more of: {', '.join(spec_names())}")
    run.add_argument("--all", action="store_true", help="every experiment that is not fresh (with --force: all)")
    run.add_argument("--force", action="store_true", help="compute again even when the stored result is fresh")
    run.add_argument("--threads", type=int, metavar="N", help="torch CPU threads (default: torch's choice)")
    run.add_argument("--no-progress", action="store_true", help="no progress bars and no per-epoch lines")


def main(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    if args.action == "list":
        for spec in SPECS:
            shown = ", ".join(spec.notebooks) or "make test (reproducibility check)"
            print(f"{spec.name:<27}{spec.kind:<10}{spec.description}\n{'':<37}shown in: {shown}")
        return 0
    if args.action == "status":
        return _status()
    names = list(args.names)
    if args.all:
        names = [spec.name for spec in SPECS if args.force or status(spec)[0] != "fresh"]
    elif not names:
        parser.error("experiments run: name one or more experiments, or give --all")
    for name in names:
        get_spec(name)  # every name checked before any training starts
    if args.threads is not None:
        if args.threads < 1:
            parser.error(f"--threads must be at least 1, got {args.threads}")
        torch.set_num_threads(args.threads)
    try:
        for name in names:
            run_experiment(name, force=args.force, progress=not args.no_progress)
    except KeyboardInterrupt:
        print(
            f"\ninterrupted: run the same command again to continue from the last finished epoch "
            f"(python -m vggattn experiments run {' '.join(names)})",
            file=sys.stderr,
        )
        return 130
    return 0


def _status() -> int:
    print(f"{'experiment':<27}{'status':<9}{'spec':<18}{'computed on':<40}stored in")
    for spec in SPECS:
        state, reason = status(spec)
        record = read_record(spec.name) or {}
        p = record.get("provenance", {})
        where = f"{p.get('cpu_model', '-')} ({p.get('date', '')[:10]})" if p else "-"
        print(
            f"{spec.name:<27}{state:<9}{current_hash(spec):<18}{where:<40}"
            f"{paths.display_path(result_folder(spec.name))}"
        )
        if state != "fresh":
            print(f"  {reason}\n  refresh: {refresh_command(spec.name)}")
    return 0
