"""The named experiments whose results the notebooks show: the one list `python -m vggattn experiments` reads.

Each entry is run once by `python -m vggattn experiments run NAME` and committed in `experiments/NAME/`.
Change a value here and the stored result becomes stale: `make test` names it and the command to refresh it.
"""

from __future__ import annotations

from dataclasses import replace

from ..finetune import BASELINE, BASELINE_RECIPE, FINETUNE_RECIPE
from .spec import DataSelection, ExperimentSpec

FINETUNE_SEEDS = (0, 1, 2)

BASELINE_SPEC = ExperimentSpec(
    name="baseline",
    kind="train",
    description="VGG16-BN at width 1/4 trained from scratch with BASELINE_RECIPE (16 epochs, all training "
    "images): the plain model every fine-tune starts from",
    recipe=BASELINE_RECIPE,
    model=BASELINE,
    seeds=(0,),
    saved_seed=0,
    notebooks=(
        "01_vgg16_baseline",
        "02_squeeze_excitation",
        "03_spatial_attention",
        "04_cbam",
        "05_dynamic_convolution",
        "07_comparison",
    ),
)
FINETUNE_DATA = DataSelection(train_per_class=300, test_per_class=200)
"""The one data selection of every insertion fine-tune in the series (3,000 training and 2,000 test images), so
that the mechanism notebooks' fine-tune results are measured on the same images."""
SE_FINETUNE = ExperimentSpec(
    name="se-finetune",
    kind="finetune",
    description="SE inserted near identity into the baseline vs the plain baseline, fine-tuned 2 epochs",
    recipe=FINETUNE_RECIPE.replace(epochs=2),
    start_from="baseline",
    attention="se",
    seeds=FINETUNE_SEEDS,
    data=FINETUNE_DATA,
    saved_seed=0,
    notebooks=("02_squeeze_excitation", "07_comparison"),
)
SPATIAL_FINETUNE = replace(
    SE_FINETUNE,
    name="spatial-finetune",
    description="spatial attention inserted near identity into the baseline vs the plain baseline, fine-tuned 2 epochs",
    recipe=FINETUNE_RECIPE.replace(epochs=2, eval_every=2),
    attention="spatial",
    notebooks=("03_spatial_attention", "07_comparison"),
)
CBAM_FINETUNE = replace(
    SE_FINETUNE,
    name="cbam-finetune",
    description="CBAM inserted near identity into the baseline vs the plain baseline, fine-tuned 2 epochs",
    attention="cbam",
    notebooks=("04_cbam", "07_comparison"),
    saved_seed=None,  # the store's 40 MB of models hold the scratch models; 04 retrains seed 0 live to look at it
)

DYNAMIC_FINETUNE = replace(
    SE_FINETUNE,
    name="dynamic-finetune",
    description="dynamic convolution (K=4, temperature 30 -> 1) in the last conv of each block vs the plain "
    "baseline, fine-tuned 2 epochs",
    attention="dynamic",
    attention_options=(("num_kernels", 4),),
    notebooks=("05_dynamic_convolution", "07_comparison"),
    saved_seed=None,  # notebook 05 retrains seed 0 live to watch it; 7.9 MB of K=4 kernels stay out of git
)

ADVICE_SEEDS = (0, 1, 2, 3, 4)
ADVICE_CONTROL = ExperimentSpec(
    name="advice-control",
    kind="finetune",
    description="SE inserted the article's way (its init: a random MLP, gates near 0.5) into the baseline and "
    "fine-tuned 3 epochs with FINETUNE_RECIPE, seeds 0-4: the control of every advice-* experiment",
    recipe=FINETUNE_RECIPE,
    start_from="baseline",
    attention="se",
    near_identity=False,
    arms=("attention",),
    seeds=ADVICE_SEEDS,
    data=FINETUNE_DATA,
    notebooks=("06_practice",),  # 02 and 07 read the effects through vggattn.advice
)


def advice_spec(technique: str, what: str, **changes: object) -> ExperimentSpec:
    """advice-`technique`: the control's fine-tune with one piece of the SE article's training advice (`changes`
    to the recipe, or `model=` for the head), paired seed by seed with advice-control's SE runs."""
    model = changes.pop("model", {})
    return replace(
        ADVICE_CONTROL,
        name=f"advice-{technique}",
        description=f"advice-control's fine-tune with {what}; control: advice-control (same SE insertion, data and "
        "seeds)",
        recipe=ADVICE_CONTROL.recipe.replace(**changes),
        model=model,
        control="advice-control",
        control_arm="attention",
    )


ADVICE = {
    "differential_lr": advice_spec(
        "differential-lr",
        "the backbone at a tenth of the learning rate of SE and the head (0.002 vs 0.02, the article's 1e-5 vs 1e-4)",
        param_groups=(("backbone", FINETUNE_RECIPE.lr / 10),),
    ),
    "progressive_unfreezing": advice_spec(
        "progressive-unfreezing",
        "progressive unfreezing in three 1-epoch stages: SE and head; then blocks 4-5 too; then everything",
        stages=(
            (1, ("attention", "head")),
            (1, ("attention", "head", "block4", "block5")),
            (1, ("all",)),
        ),
    ),
    "dropout": advice_spec("dropout", "dropout 0.5 before the classifier", model={"dropout": 0.5}),
    "weight_decay": advice_spec("weight-decay", "10x the weight decay (5e-3 vs 5e-4)", weight_decay=5e-3),
    "label_smoothing": advice_spec(
        "no-label-smoothing",
        "no label smoothing (0.0; the recipe's is 0.2, so the control is the run WITH it)",
        label_smoothing=0.0,
    ),
    "lower_lr": advice_spec("lower-lr", "a quarter of the learning rate (0.005 vs 0.02)", lr=FINETUNE_RECIPE.lr / 4),
    "gradient_clipping": advice_spec(
        "gradient-clipping",
        "the gradients' L2 norm clipped to 0.75 (the control's first steps have norms of about 0.8, printed in "
        "notebook 06; clipped at the common 1.0, a first run of this spec matched the control exactly in every seed: "
        "no step was clipped)",
        grad_clip=0.75,
    ),
    "larger_batch": advice_spec(
        "larger-batch", "twice the batch (512 vs 256; the same lr, so half as many steps)", batch_size=512
    ),
}
"""The SE article's training advice (its sections 6 and 9), one experiment per technique, keyed by the name of the
figure notebook 06 records (`advice_<technique>`: the fine-tune with the technique minus the one without it)."""
ADVICE_IN_CONTROL = ("label_smoothing",)
"""Techniques the control's recipe already uses (FINETUNE_RECIPE smooths labels by 0.2): their experiment turns the
technique off, so the technique's effect is the control minus that experiment, seed by seed."""

SCRATCH_SEEDS = (0, 1, 2)
SCRATCH_PLAIN = ExperimentSpec(
    name="scratch-plain",
    kind="train",
    description="the plain VGG16-BN (width 1/4) trained from scratch with BASELINE_RECIPE on all training images, "
    "seeds 0, 1, 2: the control of every scratch-* experiment (seed 0 is the baseline's run, trained again)",
    recipe=BASELINE_RECIPE,
    model=BASELINE,
    seeds=SCRATCH_SEEDS,
    notebooks=(
        "02_squeeze_excitation",
        "03_spatial_attention",
        "04_cbam",
        "05_dynamic_convolution",
        "07_comparison",
    ),
)


def scratch_spec(attention: str, what: str, notebooks: tuple[str, ...], **options: object) -> ExperimentSpec:
    """`attention` in the baseline's network, trained from scratch at the baseline's full budget (all training
    images, BASELINE_RECIPE, the published module and init); its control is scratch-plain's runs."""
    return ExperimentSpec(
        name=f"scratch-{attention}",
        kind="scratch",
        description=f"{what} in VGG16-BN (width 1/4), trained from scratch with BASELINE_RECIPE on all training "
        "images, seeds 0, 1, 2; control: scratch-plain (same seeds, data order and recipe)",
        recipe=BASELINE_RECIPE,
        model=BASELINE,
        attention=attention,
        attention_options=tuple(options.items()),
        arms=("attention",),
        seeds=SCRATCH_SEEDS,
        saved_seed=0,
        control="scratch-plain",
        notebooks=notebooks,
    )


SPECS: tuple[ExperimentSpec, ...] = (
    BASELINE_SPEC,
    SCRATCH_PLAIN,
    scratch_spec(
        "se", "SE (reduction 16) at the end of every block", ("02_squeeze_excitation", "04_cbam", "07_comparison")
    ),
    scratch_spec(
        "spatial", "spatial attention (7x7) after every block's pool", ("03_spatial_attention", "07_comparison")
    ),
    scratch_spec("cbam", "CBAM (reduction 16, 7x7) at the end of every block", ("04_cbam", "07_comparison")),
    replace(
        scratch_spec(
            "dynamic",
            "dynamic convolution (K=4, temperature 30 -> 1 over the first tenth of the steps) as the last conv of "
            "every block",
            ("05_dynamic_convolution", "07_comparison"),
            num_kernels=4,
        ),
        saved_dtype="float16",  # K=4 kernels: 7.9 MB in float32, over the store's 5 MB per model
    ),
    SE_FINETUNE,
    ExperimentSpec(
        name="se-scratch",
        kind="scratch",
        description="VGG16-BN width 1/4 with SE vs without, both trained from scratch for 5 epochs",
        recipe=BASELINE_RECIPE.replace(epochs=5, batch_size=128, eval_every=1, tta_flip=False),
        model=BASELINE,
        attention="se",
        seeds=FINETUNE_SEEDS,
        data=SE_FINETUNE.data,
        notebooks=("02_squeeze_excitation",),  # no stored model: 02 draws trained gates from scratch-se's
    ),
    replace(
        SE_FINETUNE,
        name="se-finetune-careless",
        description="SE inserted with its default init (random MLP, gates near 0.5), fine-tuned 2 epochs; its "
        "control is se-finetune's plain arm (same seeds, data and recipe)",
        near_identity=False,
        arms=("attention",),
        control="se-finetune",
    ),
    replace(
        SE_FINETUNE,
        name="se-finetune-scaled",
        description="SE with the scaled gate 2*sigmoid inserted as the exact identity (last layer 0), fine-tuned 2 "
        "epochs; its control is se-finetune's plain arm (same seeds, data and recipe)",
        attention_options=(("gate", "scaled"),),
        arms=("attention",),
        notebooks=("02_squeeze_excitation",),
        control="se-finetune",
    ),
    replace(
        SE_FINETUNE,
        name="se-finetune-scaled-fast",
        description="SE with the scaled gate inserted as the exact identity, fine-tuned 2 epochs with 50x the lr on "
        "the SE layers (1.0 vs 0.02) against the plain baseline fine-tuned the same way",
        recipe=FINETUNE_RECIPE.replace(epochs=2, param_groups=(("attention", 1.0),)),
        attention_options=(("gate", "scaled"),),
        notebooks=("02_squeeze_excitation",),
    ),
    SPATIAL_FINETUNE,
    CBAM_FINETUNE,
    replace(
        SPATIAL_FINETUNE,
        name="spatial-finetune-careless",
        description="spatial attention inserted with the article's init (random 7x7 weights, no bias), fine-tuned "
        "2 epochs; its control is spatial-finetune's plain arm (same seeds, data and recipe)",
        near_identity=False,
        arms=("attention",),
        notebooks=("03_spatial_attention",),
    ),
    DYNAMIC_FINETUNE,
    *(
        replace(
            finetune,
            name=f"{finetune.name}-scaled-fast",
            description=f"{what} with the scaled gate 2*sigmoid inserted as the exact identity, fine-tuned 2 epochs "
            "with 50x the lr on the attention layers (1.0 vs 0.02) against the plain baseline fine-tuned the same way "
            "(se-finetune-scaled-fast's protocol)",
            recipe=finetune.recipe.replace(param_groups=(("attention", 1.0),)),
            attention_options=(("gate", "scaled"),),
            notebooks=(notebook,),
            saved_seed=None,  # the notebook retrains seed 0 live to measure how far the gates moved
        )
        for finetune, what, notebook in (
            (SPATIAL_FINETUNE, "spatial attention", "03_spatial_attention"),
            (CBAM_FINETUNE, "CBAM", "04_cbam"),
        )
    ),
    replace(
        DYNAMIC_FINETUNE,
        name="dynamic-finetune-fast",
        description="dynamic convolution (K=4) inserted as in dynamic-finetune, fine-tuned 2 epochs with 10x the lr "
        "on the dynamic convs (0.2, the baseline's peak lr: they hold the K kernels as well as the attention MLP) "
        "against the plain baseline fine-tuned the same way",
        recipe=DYNAMIC_FINETUNE.recipe.replace(param_groups=(("attention", 0.2),)),
        notebooks=("05_dynamic_convolution",),
    ),
    ADVICE_CONTROL,
    *ADVICE.values(),
    replace(
        SE_FINETUNE,
        name="smoke-finetune",
        description="a seconds-long SE fine-tune (1,000 images, 2 epochs, one seed) that `make test` reruns to "
        "check that the store's results reproduce",
        arms=("attention",),
        seeds=(0,),
        data=DataSelection(train_per_class=100, test_per_class=100),
        saved_seed=None,
        notebooks=(),
    ),
)

_BY_NAME = {spec.name: spec for spec in SPECS}


def spec_names() -> list[str]:
    return list(_BY_NAME)


def get_spec(name: str) -> ExperimentSpec:
    """The registered spec called `name`; an unknown name is a ValueError that lists the names."""
    if not isinstance(name, str):
        raise TypeError(f"an experiment name is a string, got {type(name).__name__} {name!r}")
    if name not in _BY_NAME:
        raise ValueError(
            f"no experiment called {name!r}; the experiments are: {', '.join(_BY_NAME)} "
            f"(python -m vggattn experiments list)"
        )
    return _BY_NAME[name]
