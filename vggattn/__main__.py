"""The command line: `python -m vggattn train ...` trains one model, `python -m vggattn experiments ...` runs the experiment store.

    python -m vggattn train --model vgg16 --attention se --width 0.25 --epochs 3 --seed 0 --out runs/se
    python -m vggattn train --attention se --finetune-from experiments/baseline/model.pt
    python -m vggattn train --out runs/se --resume ...     # continue runs/se/last.pt with the same options
    python -m vggattn experiments run baseline             # train and store the baseline (experiments/)
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import Field, fields
from pathlib import Path

from . import paths
from .experiments import cli as experiments_cli
from .data import DataError, load_cifar10_splits
from .finetune import (
    BASELINE,
    BASELINE_RECIPE,
    FINETUNE_RECIPE,
    insert_attention,
    temperature_annealing,
)
from .models import ATTENTION_KINDS, CFGS, CONV_PLACEMENTS, GATE_PLACEMENTS, HEADS, build_vgg
from .train import (
    LAST_CHECKPOINT,
    OPTIMIZERS,
    SCHEDULES,
    TrainConfig,
    CheckpointError,
    TrainingDiverged,
    fit,
    model_from_checkpoint,
    seed_everything,
)

MODELS = [f"vgg{depth}" for depth in CFGS]
# options taken from the checkpoint with --finetune-from (their defaults apply otherwise)
ARCHITECTURE_DEFAULTS = {"model": f"vgg{BASELINE['depth']}", "batch_norm": BASELINE["batch_norm"],
                         "width": BASELINE["width"], "head": BASELINE["head"]}  # fmt: skip
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
    commands = parser.add_subparsers(dest="command", required=True, metavar="{train,experiments}")

    train = commands.add_parser(
        "train",
        help="train one VGG, plain or with attention, and write its history and checkpoint",
        description="Train one VGG on CIFAR-10. Writes OUT/history.json, OUT/history.csv and OUT/last.pt. "
        "Recipe options left out take the protocol's values: vggattn.finetune.BASELINE_RECIPE from scratch, "
        "FINETUNE_RECIPE with --finetune-from.",
    )
    model = train.add_argument_group("model")
    model.add_argument("--model", choices=MODELS, help=f"VGG depth (default {ARCHITECTURE_DEFAULTS['model']})")
    model.add_argument("--attention", choices=["none", *ATTENTION_KINDS], default="none",
                       help="attention kind to add (default none: the plain VGG)")  # fmt: skip
    model.add_argument("--placement", choices=sorted({*GATE_PLACEMENTS, *CONV_PLACEMENTS}),
                       help="where the attention goes (default: the source article's placement)")  # fmt: skip
    model.add_argument("--width", type=float, help=f"channel multiplier (default {BASELINE['width']})")
    model.add_argument("--batch-norm", action=argparse.BooleanOptionalAction, default=None,
                       help=f"BatchNorm after every conv (default {BASELINE['batch_norm']})")  # fmt: skip
    model.add_argument("--head", choices=HEADS, help=f"classifier head (default {BASELINE['head']})")
    model.add_argument("--finetune-from", metavar="CHECKPOINT", type=Path,
                       help="start from a plain model's checkpoint: its architecture and weights, with the "
                       "attention inserted near identity (vggattn.finetune.insert_attention)")  # fmt: skip

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
    run.add_argument("--data-root", type=Path, help="CIFAR-10 folder (default $VGGATTN_DATA, then data/)")
    run.add_argument("--device", default="auto", help="auto (CUDA, then MPS, then CPU), cpu, cuda, mps (default auto)")
    run.add_argument("--out", type=Path, help="run folder (default runs/MODEL_ATTENTION_wWIDTH_sSEED)")
    run.add_argument("--resume", action="store_true", help=f"continue the run in --out from its {LAST_CHECKPOINT}")
    run.add_argument("--no-progress", action="store_true", help="no progress bar and no per-epoch lines")

    experiments_cli.add_parser(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    try:
        if args.command == "experiments":
            return experiments_cli.main(args, parser)
        return _train(args, parser)
    except (DataError, CheckpointError, ValueError, FileNotFoundError) as error:
        parser.error(str(error))  # exits with status 2 and the usage line, not a traceback
    except TrainingDiverged as error:
        print(f"error: {error}", file=sys.stderr)
        return 1


def _train(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    if args.seed is None:
        args.seed = BASELINE_RECIPE.seed
    attention = None if args.attention == "none" else args.attention
    if args.finetune_from is not None:
        given = [f"--{name.replace('_', '-')}" for name in ARCHITECTURE_DEFAULTS if getattr(args, name) is not None]
        if given:
            parser.error(f"{', '.join(given)}: with --finetune-from the architecture comes from the checkpoint")
    out = args.out or paths.project_root() / "runs" / _run_name(args, attention)
    last = out / LAST_CHECKPOINT
    if args.resume and not last.is_file():
        parser.error(f"--resume: no checkpoint at {paths.display_path(last)}; start the run without --resume")
    if not args.resume and last.is_file():
        parser.error(
            f"{paths.display_path(out)} already holds a run: add --resume to continue it, or choose another --out"
        )

    seed_everything(args.seed)
    if args.finetune_from is not None:
        model = model_from_checkpoint(args.finetune_from)
        if attention is not None:
            model, report = insert_attention(model, attention, placement=args.placement)
            print(f"--finetune-from {args.finetune_from.name}: {report}")
    else:
        chosen = {name: default if getattr(args, name) is None else getattr(args, name)
                  for name, default in ARCHITECTURE_DEFAULTS.items()}  # fmt: skip
        model = build_vgg(int(chosen["model"][3:]), chosen["batch_norm"], chosen["width"], head=chosen["head"],
                          attention=attention, placement=args.placement)  # fmt: skip

    changes = {option.name: getattr(args, option.name) for option in RECIPE_OPTIONS
               if getattr(args, option.name) is not None}  # fmt: skip
    if "mixed_precision" in changes:
        changes["mixed_precision"] = MIXED_PRECISION_WORDS[changes["mixed_precision"]]
    recipe = (FINETUNE_RECIPE if args.finetune_from is not None else BASELINE_RECIPE).replace(**changes)
    train_data, test_data = load_cifar10_splits(args.data_root, subset_per_class=args.subset_per_class)
    history = fit(
        model, train_data, test_data, device=args.device, progress=not args.no_progress, out_dir=out,
        resume=out if args.resume else None, on_epoch_start=temperature_annealing(model, recipe.epochs), config=recipe,
    )  # fmt: skip
    best = history.best
    print(f"final test accuracy {history.final.test_acc:.2%} (best {best.test_acc:.2%} at epoch {best.epoch}); "
          f"wrote history.json, history.csv and {LAST_CHECKPOINT} to {paths.display_path(out)}")  # fmt: skip
    return 0


def _run_name(args: argparse.Namespace, attention: str | None) -> str:
    if args.finetune_from is not None:
        return f"{args.finetune_from.stem}_{attention or 'plain'}_s{args.seed}"
    model = args.model or ARCHITECTURE_DEFAULTS["model"]
    batch_norm = ARCHITECTURE_DEFAULTS["batch_norm"] if args.batch_norm is None else args.batch_norm
    width = args.width or ARCHITECTURE_DEFAULTS["width"]
    return f"{model}{'_bn' if batch_norm else ''}_{attention or 'plain'}_w{width:g}_s{args.seed}"


if __name__ == "__main__":
    raise SystemExit(main())
