"""The command line: `python -m vggattn train` trains one model, `python -m vggattn experiments` runs the store,
`python -m vggattn compare` prints every attention variant's cost and stored results side by side.

For example:

    python -m vggattn train --model vgg16 --attention se --width 0.25 --epochs 3 --seed 0 --out runs/se
    python -m vggattn train --attention se --finetune-from experiments/baseline/model.pt
    python -m vggattn train --out runs/se --resume       # continue runs/se/last.pt as it was started
    python -m vggattn experiments run baseline           # train and store the baseline (experiments/)
    python -m vggattn compare --no-timing                # parameters, FLOPs, memory, stored accuracies per variant
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import Field, fields
from pathlib import Path

import torch

from . import paths
from .allocator import retain_freed_memory
from .attention.kinds import ATTENTION_KINDS, CONV_PLACEMENTS, GATE_PLACEMENTS
from .checkpoints import LAST_CHECKPOINT, CheckpointError, load_checkpoint, model_from_checkpoint
from .data import DataError, load_cifar10_splits
from .experiments import cli as experiments_cli
from .finetune import (
    BASELINE,
    BASELINE_RECIPE,
    FINETUNE_RECIPE,
    insert_attention,
    temperature_annealing,
)
from .models import CFGS, HEADS, build_vgg
from .runtime import seed_everything
from .train import OPTIMIZERS, SCHEDULES, TrainConfig, TrainingDiverged, fit

MODELS = [f"vgg{depth}" for depth in CFGS]
RUN_FILE = "run.json"  # what a `train` run trains (model config, recipe, data), written when it starts
ATTENTION_HELP = "; ".join(
    f"{name}: {kind.summary} (placements {', '.join(kind.placements)}; default {kind.default_placement})"
    for name, kind in ATTENTION_KINDS.items()
)
# options taken from the checkpoint with --finetune-from (their defaults apply otherwise)
ARCHITECTURE_DEFAULTS = {
    "model": f"vgg{BASELINE['depth']}",
    "batch_norm": BASELINE["batch_norm"],
    "width": BASELINE["width"],
    "head": BASELINE["head"],
}
RECIPE_OPTIONS = [option for option in fields(TrainConfig) if option.metadata.get("cli")]
"""The recipe's options that the command line sets: every TrainConfig field marked `cli` (with its help)."""
RECIPE_CHOICES = {"optimizer": OPTIMIZERS, "schedule": SCHEDULES}
MIXED_PRECISION_WORDS = {"off": False, "on": True, "auto": "auto"}


def _flag_type(option: Field) -> type:
    """The argparse type of a recipe field, from its annotation ("int", "float | None", "bool", ...)."""
    first = str(option.type).split("|")[0].strip()
    return {"int": int, "float": float, "bool": bool, "str": str}[first]


def _recipe_defaults(name: str) -> str:
    """'default X from scratch, Y with --finetune-from' from the two recipes of vggattn.finetune."""
    scratch, finetune = getattr(BASELINE_RECIPE, name), getattr(FINETUNE_RECIPE, name)
    words = {value: word for word, value in MIXED_PRECISION_WORDS.items()} if name == "mixed_precision" else {}
    scratch, finetune = words.get(scratch, scratch), words.get(finetune, finetune)
    if scratch is None and finetune is None:
        return "default off"
    if scratch == finetune:
        return f"default {scratch}"
    return f"default {scratch} from scratch, {finetune} with --finetune-from"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m vggattn", description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True, metavar="{train,experiments,compare}")

    train = commands.add_parser(
        "train",
        help="train one VGG, plain or with attention, and write its history and checkpoint",
        description="Train one VGG on CIFAR-10. Writes OUT/history.json, OUT/history.csv and OUT/last.pt. "
        "Recipe options left out take the protocol's values: vggattn.finetune.BASELINE_RECIPE from scratch, "
        "FINETUNE_RECIPE with --finetune-from.",
    )
    model = train.add_argument_group("model")
    model.add_argument("--model", choices=MODELS, help=f"VGG depth (default {ARCHITECTURE_DEFAULTS['model']})")
    model.add_argument(
        "--attention",
        choices=["none", *ATTENTION_KINDS],
        help="attention kind to add (default none: the plain VGG); " + ATTENTION_HELP,
    )
    model.add_argument(
        "--placement",
        choices=sorted({*GATE_PLACEMENTS, *CONV_PLACEMENTS}),
        help="where the attention goes (default: the source article's placement)",
    )
    model.add_argument("--width", type=float, help=f"channel multiplier (default {BASELINE['width']})")
    model.add_argument(
        "--batch-norm",
        action=argparse.BooleanOptionalAction,
        default=None,
        help=f"BatchNorm after every conv (default {BASELINE['batch_norm']})",
    )
    model.add_argument("--head", choices=HEADS, help=f"classifier head (default {BASELINE['head']})")
    model.add_argument(
        "--finetune-from",
        metavar="CHECKPOINT",
        type=Path,
        help="start from a plain model's checkpoint: its architecture and weights, with the "
        "attention inserted near identity (vggattn.finetune.insert_attention)",
    )

    recipe = train.add_argument_group("recipe")
    for option in RECIPE_OPTIONS:
        name = option.name
        flag = f"--{name.replace('_', '-')}"
        text = f"{option.metadata['help']} ({_recipe_defaults(name)})"
        if name == "mixed_precision":
            recipe.add_argument(flag, choices=MIXED_PRECISION_WORDS, help=text)
        elif _flag_type(option) is bool:
            recipe.add_argument(flag, action=argparse.BooleanOptionalAction, default=None, help=text)
        else:
            recipe.add_argument(flag, type=_flag_type(option), choices=RECIPE_CHOICES.get(name), help=text)

    run = train.add_argument_group("data and run")
    run.add_argument("--subset-per-class", type=int, metavar="N", help="train on N images per class (default all)")
    run.add_argument(
        "--test-subset-per-class",
        type=int,
        metavar="N",
        help="score on N test images per class (default all 1,000: about 17 s per evaluation with "
        "flip TTA on a 2-core CPU)",
    )
    run.add_argument("--data-root", type=Path, help="CIFAR-10 folder (default $VGGATTN_DATA, then data/)")
    run.add_argument("--device", help="auto (CUDA, then MPS, then CPU), cpu, cuda, mps (default auto)")
    run.add_argument("--threads", type=int, metavar="N", help="torch CPU threads (default: torch's choice)")
    run.add_argument("--out", type=Path, help="run folder (default runs/MODEL_ATTENTION_wWIDTH_sSEED)")
    run.add_argument(
        "--resume",
        action="store_true",
        help=f"continue the run in --out from its {LAST_CHECKPOINT}: the model, recipe and data are "
        f"the run's own ({RUN_FILE}); only --device, --threads, --eval-every and --no-progress may "
        f"be given",
    )
    run.add_argument("--no-progress", action="store_true", help="no progress bar and no per-epoch lines")

    experiments_cli.add_parser(commands)
    compare = commands.add_parser(
        "compare",
        help="every attention variant side by side: parameters, FLOPs, memory, CPU time, stored accuracies",
        description="Plain VGG16-BN and every attention kind of the registry, measured the same way "
        "(vggattn.comparison): exact costs, CPU time measured side by side, and the experiment store's paired "
        "comparisons with plain (never trains).",
    )
    compare.add_argument(
        "--width", type=float, default=BASELINE["width"], help="the narrow width (default %(default)s)"
    )
    compare.add_argument("--no-timing", action="store_true", help="skip the CPU timing (about a minute on 2 cores)")
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    retain_freed_memory()  # CPU training stops page-faulting its activations every step (vggattn.allocator)
    try:
        if args.command == "experiments":
            return experiments_cli.main(args, parser)
        if args.command == "compare":
            from .comparison import main as compare_main

            if args.width <= 0:
                parser.error(f"--width must be positive, got {args.width}")
            return compare_main(width=args.width, timing=not args.no_timing)
        return _train(args, parser)
    except (DataError, CheckpointError, ValueError, FileNotFoundError) as error:
        parser.error(str(error))  # exits with status 2 and the usage line, not a traceback
    except TrainingDiverged as error:
        print(f"error: {error}", file=sys.stderr)
        return 1


def _train(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    if args.threads is not None:
        if args.threads < 1:
            parser.error(f"--threads must be at least 1, got {args.threads}")
        torch.set_num_threads(args.threads)
    out = args.out or paths.project_root() / "runs" / _run_name(args)
    if out.exists() and not out.is_dir():
        parser.error(
            f"--out {paths.shown_path(out)} is a file, not a folder: give the name of a folder for the run's files"
        )
    last = out / LAST_CHECKPOINT
    if args.resume:
        if not last.is_file():
            parser.error(f"--resume: no checkpoint at {paths.shown_path(last)}; start the run without --resume")
        run = _resumed_run(args, parser, out)
    else:
        run = _new_run(args, parser)  # the options checked first
        if last.is_file():
            parser.error(
                f"{paths.shown_path(out)} already holds a run: add --resume to continue it, or choose another --out"
            )
    try:
        out.mkdir(parents=True, exist_ok=True)
        if not args.resume:
            (out / RUN_FILE).write_text(json.dumps(run, indent=1) + "\n", encoding="utf-8")
    except OSError as error:
        parser.error(
            f"--out {paths.shown_path(out)} cannot be written ({error.strerror}): choose a folder you can write to"
        )

    recipe = TrainConfig.from_options(None, **run["recipe"])
    if args.eval_every is not None:
        recipe = recipe.replace(eval_every=args.eval_every)
    model = build_vgg(**run["model"])
    if run["finetune_from"] is not None and not args.resume:
        model = _finetune_start(run, model)
    train_data, test_data = load_cifar10_splits(
        run["data_root"], subset_per_class=run["subset_per_class"], test_subset_per_class=run["test_subset_per_class"]
    )
    if args.resume:
        done = load_checkpoint(last)["epoch"]
        if done >= recipe.epochs:
            print(
                f"the run in {paths.shown_path(out)} is complete ({done} of {recipe.epochs} epochs): nothing to do; "
                f"its files are history.json, history.csv and {LAST_CHECKPOINT}"
            )
            return 0
        print(f"resuming the run in {paths.shown_path(out)} after epoch {done} of {recipe.epochs}")
    try:
        history = fit(
            model,
            train_data,
            test_data,
            recipe,
            device=args.device or "auto",
            progress=not args.no_progress,
            out_dir=out,
            resume=out if args.resume else None,
            on_step_start=temperature_annealing(model, recipe.epochs),
        )
    except KeyboardInterrupt:
        if not last.is_file():
            (out / RUN_FILE).unlink(missing_ok=True)  # nothing to resume: the same command starts afresh
            print(
                "\ninterrupted before the first epoch ended: nothing was saved; give the same command again",
                file=sys.stderr,
            )
            return 130
        done = load_checkpoint(last)["epoch"]
        print(
            f"\ninterrupted after {done} finished epoch(s); continue with: python -m vggattn train --out "
            f"{paths.shown_path(out)} --resume",
            file=sys.stderr,
        )
        return 130
    best = history.best
    print(
        f"final test accuracy {history.final.test_acc:.2%} (best {best.test_acc:.2%} at epoch {best.epoch}); "
        f"wrote history.json, history.csv and {LAST_CHECKPOINT} to {paths.shown_path(out)}"
    )
    return 0


def _new_run(args: argparse.Namespace, parser: argparse.ArgumentParser) -> dict:
    """What a new run trains: model config, recipe, data; everything checked before any work starts."""
    attention = None if args.attention in (None, "none") else args.attention
    if args.finetune_from is not None:
        given = [f"--{name.replace('_', '-')}" for name in ARCHITECTURE_DEFAULTS if getattr(args, name) is not None]
        if given:
            parser.error(f"{', '.join(given)}: with --finetune-from the architecture comes from the checkpoint")
        start = model_from_checkpoint(args.finetune_from)  # a missing or unreadable file fails here, not later
        model = {**start.config, "attention": attention, "placement": args.placement}
    else:
        chosen = {
            name: default if getattr(args, name) is None else getattr(args, name)
            for name, default in ARCHITECTURE_DEFAULTS.items()
        }
        model = dict(
            depth=int(chosen["model"][3:]),
            batch_norm=chosen["batch_norm"],
            width=chosen["width"],
            head=chosen["head"],
            attention=attention,
            placement=args.placement,
        )
        build_vgg(**model)  # a bad combination fails now
    changes = {
        option.name: getattr(args, option.name) for option in RECIPE_OPTIONS if getattr(args, option.name) is not None
    }
    if "mixed_precision" in changes:
        changes["mixed_precision"] = MIXED_PRECISION_WORDS[changes["mixed_precision"]]
    if "epochs" in changes and "eval_every" not in changes:
        changes["eval_every"] = 1  # a run of chosen length shows its test curve
    recipe = (FINETUNE_RECIPE if args.finetune_from is not None else BASELINE_RECIPE).replace(**changes)
    return {
        "model": model,
        "recipe": recipe.as_dict(),
        "finetune_from": None if args.finetune_from is None else str(args.finetune_from),
        "data_root": None if args.data_root is None else str(args.data_root),
        "subset_per_class": args.subset_per_class,
        "test_subset_per_class": args.test_subset_per_class,
    }


RESUME_MAY_CHANGE = ("device", "threads", "eval_every", "no_progress", "out", "resume")


def _resumed_run(args: argparse.Namespace, parser: argparse.ArgumentParser, out: Path) -> dict:
    """The run as it was started (its run.json); a flag that would change it is refused, naming the flag."""
    if not (out / RUN_FILE).is_file():
        parser.error(
            f"--resume: {paths.shown_path(out)} has {LAST_CHECKPOINT} but no {RUN_FILE} (a run of an older version); "
            f"start a new run"
        )
    run = json.loads((out / RUN_FILE).read_text(encoding="utf-8"))
    differ = []
    for name, value in vars(args).items():
        if name in RESUME_MAY_CHANGE or name == "command" or value in (None, False):
            continue
        stored = _stored_value(run, name)
        if _as_run_value(name, value) != stored:
            differ.append(f"--{name.replace('_', '-')} {value} (the run has {stored})")
    if differ:
        parser.error(
            f"--resume continues the run in {paths.shown_path(out)} with its own model, recipe and data: "
            f"{'; '.join(differ)}. Leave these flags out (only --device, --threads, --eval-every and "
            f"--no-progress may change), or start a new run with another --out"
        )
    return run


def _stored_value(run: dict, name: str) -> object:
    """What the run stored for the command-line option `name`."""
    if name == "model":
        return f"vgg{run['model']['depth']}"
    if name in ("width", "batch_norm", "head", "attention", "placement"):
        return run["model"][name]
    if name in run["recipe"]:
        return run["recipe"][name]
    return run.get(name)


def _as_run_value(name: str, value: object) -> object:
    """A command-line value in the form the run stores it."""
    if name == "attention" and value == "none":
        return None
    if name == "mixed_precision":
        return MIXED_PRECISION_WORDS[value]
    return str(value) if isinstance(value, Path) else value


def _finetune_start(run: dict, model: torch.nn.Module) -> torch.nn.Module:
    """The checkpoint's weights, with the attention inserted near identity (a plain fine-tune: the weights)."""
    start = model_from_checkpoint(run["finetune_from"])
    attention = run["model"]["attention"]
    if attention is None:
        return start
    seed_everything(run["recipe"]["seed"])
    inserted, report = insert_attention(start, attention, placement=run["model"]["placement"])
    print(f"--finetune-from {Path(run['finetune_from']).name}: {report}")
    return inserted


def _run_name(args: argparse.Namespace) -> str:
    attention = None if args.attention in (None, "none") else args.attention
    if args.finetune_from is not None:
        return f"{args.finetune_from.stem}_{attention or 'plain'}_s{args.seed or 0}"
    model = args.model or ARCHITECTURE_DEFAULTS["model"]
    batch_norm = ARCHITECTURE_DEFAULTS["batch_norm"] if args.batch_norm is None else args.batch_norm
    width = args.width or ARCHITECTURE_DEFAULTS["width"]
    return f"{model}{'_bn' if batch_norm else ''}_{attention or 'plain'}_w{width:g}_s{args.seed or 0}"


if __name__ == "__main__":
    raise SystemExit(main())
