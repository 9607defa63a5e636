"""CIFAR-10 as uint8 tensors, batched tensor augmentation and a deterministic batch iterator.

A data root holds CIFAR-10 in one of two layouts:

- ``"canonical"``: torchvision's ``root/cifar-10-batches-py`` (read with ``torchvision.datasets.CIFAR10``);
- ``"imagefolder"``: ``root/train/CLASS/*.png|jpg|jpeg`` and ``root/test/CLASS/...``.

The root is looked for in order: an explicit ``root=``, then ``$VGGATTN_DATA``, then the project's ``data/``;
``find_or_download`` downloads the canonical archive when none holds CIFAR-10.
Each split is decoded once into ``images`` uint8 (N, 3, 32, 32) and ``labels`` int64 (N,), checked
(the ten CIFAR-10 classes, every image 32x32 RGB) and cached as a ``.pt`` file in ``paths.cache_dir()``;
the cache is rebuilt when the files change.

JPEGs are decoded in one batched ``torchvision.io.decode_jpeg`` call (its deprecation warning silenced),
PNGs and files that batch rejects with Pillow.

Training batches are augmented on whole batches at once: a random 32x32 crop of the image padded
with 4 zero pixels on each side, then a horizontal flip with probability 1/2, then
``x = (image / 255 - mean) / std`` per channel.
"""

from __future__ import annotations

import hashlib
import os
import warnings
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
import torchvision
from PIL import Image
from torchvision.datasets import cifar as torchvision_cifar

from vggattn import paths
from vggattn.checks import check_choice, check_int
from vggattn.data_cache import cache_file_for, read_cache, source_fingerprint, write_cache

CIFAR10_CLASSES: tuple[str, ...] = (
    "airplane",
    "automobile",
    "bird",
    "cat",
    "deer",
    "dog",
    "frog",
    "horse",
    "ship",
    "truck",
)
CIFAR10_MEAN: tuple[float, float, float] = (0.4914, 0.4822, 0.4465)
CIFAR10_STD: tuple[float, float, float] = (0.2470, 0.2435, 0.2616)

IMAGE_SHAPE = (3, 32, 32)
CROP_PADDING = 4
SPLITS = ("train", "test")
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")
CANONICAL_FOLDER = torchvision.datasets.CIFAR10.base_folder  # "cifar-10-batches-py"

FIX_HINT = (
    "Fix: export VGGATTN_DATA=/path/to/cifar10 (a folder holding cifar-10-batches-py/, "
    "or train/ and test/ with one folder per class), or give that folder as --data-root on the command line "
    "(root=... in Python)."
)


class DataError(RuntimeError):
    """A problem with the data on disk that the user can fix; the message says how."""


@dataclass(eq=False, repr=False)
class CifarTensors:
    """One split of CIFAR-10 held in memory: ``images`` uint8 (N, 3, 32, 32), ``labels`` int64 (N,)."""

    images: torch.Tensor
    labels: torch.Tensor
    classes: tuple[str, ...]
    source: str

    def __post_init__(self) -> None:
        if not isinstance(self.images, torch.Tensor) or self.images.dtype != torch.uint8:
            raise TypeError(
                f"images must be a uint8 tensor, got {_describe(self.images)}; "
                "decode images to uint8 (0..255) before wrapping them."
            )
        if self.images.dim() != 4 or tuple(self.images.shape[1:]) != IMAGE_SHAPE:
            raise ValueError(f"images must have shape (N, 3, 32, 32), got {tuple(self.images.shape)}.")
        if not isinstance(self.labels, torch.Tensor) or self.labels.dtype != torch.int64:
            raise TypeError(f"labels must be an int64 tensor, got {_describe(self.labels)}; use labels.long().")
        if self.labels.shape != (len(self.images),):
            raise ValueError(
                f"labels must have shape ({len(self.images)},), one per image, got {tuple(self.labels.shape)}."
            )
        self.classes = tuple(self.classes)
        if len(self.labels) and not 0 <= int(self.labels.min()) <= int(self.labels.max()) < len(self.classes):
            raise ValueError(
                f"labels must lie in [0, {len(self.classes)}) for {len(self.classes)} classes, "
                f"got values from {int(self.labels.min())} to {int(self.labels.max())}."
            )

    def __len__(self) -> int:
        return len(self.labels)

    def __repr__(self) -> str:
        return f"CifarTensors({len(self)} images, {len(self.classes)} classes, source={self.source!r})"

    def counts(self) -> dict[str, int]:
        """Number of images per class name, in class order."""
        per_class = torch.bincount(self.labels, minlength=len(self.classes))
        return {name: int(count) for name, count in zip(self.classes, per_class)}

    def subset_per_class(self, n: int, seed: int = 0) -> CifarTensors:
        """``n`` images of every class, drawn without replacement by a generator seeded with ``seed``.

        The chosen images keep their original order. Same (data, n, seed) -> same subset.
        """
        check_int("n (images per class)", n)
        available = self.counts()
        too_few = {name: count for name, count in available.items() if count < n}
        if too_few:
            raise ValueError(
                f"cannot take {n} images per class: {_join(f'{k} has {v}' for k, v in too_few.items())}. "
                f"Fix: ask for at most {min(available.values())} per class."
            )
        generator = torch.Generator().manual_seed(seed)
        chosen = []
        for label in range(len(self.classes)):
            of_class = torch.nonzero(self.labels == label).flatten()  # (count,)
            chosen.append(of_class[torch.randperm(len(of_class), generator=generator)[:n]])
        index = torch.cat(chosen).sort().values  # (n * classes,), in data order
        return CifarTensors(
            self.images[index], self.labels[index], self.classes, f"{self.source}, {n} per class (seed {seed})"
        )


# ----------------------------------------------------------------------------------------------
# Finding the data


def find_data_root(root: str | os.PathLike | None = None) -> tuple[Path, str]:
    """The data root and its layout (``"canonical"`` or ``"imagefolder"``); looks, never downloads.

    An explicit ``root`` is the only place looked at; without it, ``$VGGATTN_DATA`` and then the project's
    ``data/`` folder. Raises ``DataError`` naming every place looked at if none holds CIFAR-10.
    """
    candidates = _candidates(root)
    for folder, _origin in candidates:
        layout = _layout(folder)
        if layout is not None:
            return folder, layout
    raise DataError(_not_found_message(candidates))


def find_or_download(root: str | os.PathLike | None = None) -> tuple[Path, str]:
    """`find_data_root`, and when nothing is found, torchvision's download of the canonical archive (with a
    progress bar): into ``root`` or ``$VGGATTN_DATA`` when that folder exists, else into the project's ``data/``.

    A ``root`` or ``$VGGATTN_DATA`` that does not exist is reported as such (a typo), and no folder is made.
    This is the one data entry point of the notebooks and the command line (`load_cifar10` calls it).
    """
    try:
        return find_data_root(root)
    except DataError:
        pass
    candidates = _candidates(root)
    chosen_folder, origin = candidates[0]
    if not chosen_folder.is_dir() and origin != "the project's data folder":
        fix = "fix --data-root (root=... in Python)" if root is not None else "fix or unset VGGATTN_DATA"
        raise DataError(
            f"{paths.shown_path(chosen_folder)} ({origin}) does not exist: {fix}, or create the folder to download "
            f"CIFAR-10 into it.\n{_not_found_message(candidates)}"
        )
    target = chosen_folder if chosen_folder.is_dir() else paths.data_dir()
    try:
        torchvision.datasets.CIFAR10(target, train=True, download=True)
    except (OSError, RuntimeError) as error:  # offline: URLError (an OSError); a bad checksum: RuntimeError
        reason = getattr(error, "reason", error)
        failure = f"Downloading it into {paths.shown_path(target)} failed ({type(error).__name__}: {reason}).\n"
        raise DataError(_not_found_message(candidates, failure)) from None
    return find_data_root(target)


def _candidates(root: str | os.PathLike | None) -> list[tuple[Path, str]]:
    """(folder, where it came from) in the order they are tried, without repeats."""
    if root is not None:
        return [(Path(root).expanduser(), "--data-root / root=")]
    tried: list[tuple[Path, str]] = []
    if os.environ.get("VGGATTN_DATA"):
        from_env = Path(os.environ["VGGATTN_DATA"]).expanduser()
        tried.append((from_env, "$VGGATTN_DATA"))
        if not from_env.is_absolute():  # relative to the shell's folder, but a notebook runs in notebooks/
            tried.append((paths.project_root() / from_env, "$VGGATTN_DATA, relative to the project root"))
    tried.append((paths.data_dir(), "the project's data folder"))
    candidates: list[tuple[Path, str]] = []
    for folder, origin in tried:
        if all(folder.resolve() != seen.resolve() for seen, _ in candidates):
            candidates.append((folder, origin))
    return candidates


def _layout(folder: Path) -> str | None:
    if (folder / CANONICAL_FOLDER).is_dir():
        return "canonical"
    if all((folder / split).is_dir() for split in SPLITS):
        return "imagefolder"
    return None


def _not_found_message(candidates: list[tuple[Path, str]], download_failure: str = "") -> str:
    looked = "\n".join(
        f"  - {paths.shown_path(folder)} ({origin}): {_why_empty(folder)}" for folder, origin in candidates
    )
    return f"No CIFAR-10 found. Looked in:\n{looked}\n{download_failure}{FIX_HINT}"


def _why_empty(folder: Path) -> str:
    if not folder.exists():
        return "does not exist"
    if not folder.is_dir():
        return "is not a folder"
    return f"holds neither {CANONICAL_FOLDER}/ nor both train/ and test/"


# ----------------------------------------------------------------------------------------------
# Loading


def load_cifar10(
    split: str = "train",
    root: str | os.PathLike | None = None,
    *,
    subset_per_class: int | None = None,
    cache: bool = True,
    download: bool = True,
) -> CifarTensors:
    """One split (``"train"`` or ``"test"``) of CIFAR-10 as uint8 tensors.

    Without data on disk and with ``download=True``, downloads the canonical archive (``find_or_download``).
    ``subset_per_class=n`` keeps ``n`` images per class (``CifarTensors.subset_per_class(n, seed=0)``).
    """
    check_choice("split", split, SPLITS)
    data_root, layout = find_or_download(root) if download else find_data_root(root)
    files = _canonical_files(data_root, split) if layout == "canonical" else _imagefolder_files(data_root, split)
    fingerprint = source_fingerprint(data_root, files)
    cache_file = cache_file_for(data_root, split, layout)

    cached = read_cache(cache_file, fingerprint) if cache else None
    if cached is not None:
        images, labels, classes = cached
    else:
        if layout == "canonical":
            images, labels, classes = _decode_canonical(data_root, split)
        else:
            images, labels, classes = _decode_imagefolder(data_root, files)
        if cache:
            write_cache(cache_file, fingerprint, images, labels, classes)

    kind = "canonical CIFAR-10" if layout == "canonical" else "ImageFolder copy"
    data = CifarTensors(images, labels, classes, f"{kind} at {paths.display_path(data_root)} ({split})")
    return data if subset_per_class is None else data.subset_per_class(subset_per_class)


def load_cifar10_splits(
    root: str | os.PathLike | None = None,
    *,
    subset_per_class: int | None = None,
    test_subset_per_class: int | None = None,
    cache: bool = True,
    download: bool = True,
) -> tuple[CifarTensors, CifarTensors]:
    """(train, test) from the same data root; see ``load_cifar10``."""
    data_root, _layout_name = find_or_download(root) if download else find_data_root(root)
    train = load_cifar10("train", data_root, subset_per_class=subset_per_class, cache=cache, download=False)
    test = load_cifar10("test", data_root, subset_per_class=test_subset_per_class, cache=cache, download=False)
    return train, test


def _canonical_files(data_root: Path, split: str) -> list[Path]:
    dataset = torchvision.datasets.CIFAR10
    batch_names = [name for name, _md5 in (dataset.train_list if split == "train" else dataset.test_list)]
    files = [data_root / CANONICAL_FOLDER / name for name in [*batch_names, dataset.meta["filename"]]]
    missing = [file.name for file in files if not file.is_file()]
    if missing:
        raise DataError(
            f"{paths.shown_path(data_root / CANONICAL_FOLDER)} lacks {_join(missing)}. "
            "Fix: delete that folder and download CIFAR-10 again."
        )
    return files


def _decode_canonical(data_root: Path, split: str) -> tuple[torch.Tensor, torch.Tensor, tuple[str, ...]]:
    try:
        dataset = torchvision.datasets.CIFAR10(data_root, train=split == "train", download=False)
    except RuntimeError:  # torchvision found a file whose md5 differs from the published one
        raise DataError(
            f"{_first_corrupt_canonical_file(data_root)} is corrupted (its md5 checksum differs "
            "from CIFAR-10's). Fix: delete it and download CIFAR-10 again."
        ) from None
    classes = tuple(dataset.classes)
    if classes != CIFAR10_CLASSES:
        raise DataError(
            f"{paths.shown_path(data_root / CANONICAL_FOLDER)} lists classes {classes}, "
            f"not CIFAR-10's {CIFAR10_CLASSES}. Fix: point at a CIFAR-10 (not CIFAR-100) copy."
        )
    images = torch.from_numpy(dataset.data).permute(0, 3, 1, 2).contiguous()  # (N, 32, 32, 3) -> (N, 3, 32, 32)
    return images, torch.tensor(dataset.targets, dtype=torch.int64), classes


def _first_corrupt_canonical_file(data_root: Path) -> str:
    dataset = torchvision.datasets.CIFAR10
    checks = [*dataset.train_list, *dataset.test_list, [dataset.meta["filename"], dataset.meta["md5"]]]
    for name, md5 in checks:
        # torchvision's own checksum test, looked up where CIFAR10 looks it up
        if not torchvision_cifar.check_integrity(str(data_root / CANONICAL_FOLDER / name), md5):
            return _display_file(data_root, data_root / CANONICAL_FOLDER / name)
    return paths.shown_path(data_root / CANONICAL_FOLDER)


def _imagefolder_files(data_root: Path, split: str) -> list[Path]:
    """Image files of ``data_root/split/CLASS/``, in class order then name order (as ImageFolder)."""
    split_dir = data_root / split
    folders = sorted(entry.name for entry in os.scandir(split_dir) if entry.is_dir() and not entry.name.startswith("."))
    if tuple(folders) != CIFAR10_CLASSES:
        missing = [name for name in CIFAR10_CLASSES if name not in folders]
        extra = [name for name in folders if name not in CIFAR10_CLASSES]
        problems = ([f"missing class folder(s) {_join(missing)}"] if missing else []) + (
            [f"unexpected folder(s) {_join(extra)}"] if extra else []
        )
        raise DataError(
            f"{paths.shown_path(split_dir)}: {'; '.join(problems)}. It must hold exactly one folder "
            f"per CIFAR-10 class: {_join(CIFAR10_CLASSES)}. Fix: rename, add or remove folders."
        )
    files: list[Path] = []
    for name in CIFAR10_CLASSES:
        names = sorted(entry.name for entry in os.scandir(split_dir / name) if not entry.name.startswith("."))
        others = [file for file in names if not file.lower().endswith(IMAGE_SUFFIXES)]
        if others:
            raise DataError(
                f"{_display_file(data_root, split_dir / name / others[0])} is not a "
                f"{'/'.join(IMAGE_SUFFIXES)} image. Fix: move non-image files out of the class folders."
            )
        if not names:
            raise DataError(
                f"{paths.shown_path(split_dir / name)} holds no images. "
                "Fix: copy the class's images there or point at a complete copy."
            )
        files += [split_dir / name / file for file in names]
    return files


TORCHVISION_DECODE_DEPRECATION = "The image decoding and encoding capabilities of TorchVision are deprecated"


def _decode_jpegs_batched(files: list[Path]) -> np.ndarray | None:
    """Pixels (N, 32, 32, 3) of JPEG `files` from torchvision's batched libjpeg decoder (about 3x faster than
    Pillow file by file, same pixels), or None when it is unavailable or a file is not a 32x32 RGB JPEG: the
    caller then decodes file by file with Pillow, which names the bad file."""
    try:
        from torchvision.io import ImageReadMode, decode_jpeg
    except ImportError:  # a torchvision without image decoding (deprecated since 0.29)
        return None
    try:
        encoded = [torch.frombuffer(bytearray(file.read_bytes()), dtype=torch.uint8) for file in files]
        with warnings.catch_warnings():  # deprecated in favour of TorchCodec, still in the pinned 0.29.1
            warnings.filterwarnings("ignore", message=TORCHVISION_DECODE_DEPRECATION, category=DeprecationWarning)
            images = decode_jpeg(encoded, mode=ImageReadMode.UNCHANGED)
    except (OSError, RuntimeError, ValueError):  # unreadable, empty or corrupt file
        return None
    if any(image.shape != (3, 32, 32) for image in images):
        return None
    return torch.stack(images).permute(0, 2, 3, 1).numpy()  # (N, C, H, W) -> (N, H, W, C)


def _decode_imagefolder(data_root: Path, files: list[Path]) -> tuple[torch.Tensor, torch.Tensor, tuple[str, ...]]:
    """Images uint8 (N, 3, 32, 32), labels int64 (N,) from each file's class folder, and the classes.

    JPEGs are decoded in one batch by torchvision; PNGs, and every file if that batch fails, with Pillow.
    A file that is not a 32x32 RGB PNG/JPEG raises ``DataError`` naming it.
    """
    pixels = np.empty((len(files), 32, 32, 3), dtype=np.uint8)  # (N, H, W, C), as images are stored
    jpeg_indices = [index for index, file in enumerate(files) if file.suffix.lower() in (".jpg", ".jpeg")]
    batched = _decode_jpegs_batched([files[index] for index in jpeg_indices]) if jpeg_indices else None
    if batched is not None:
        pixels[jpeg_indices] = batched
    done = set(jpeg_indices) if batched is not None else set()
    for index, file in enumerate(files):
        if index in done:
            continue
        try:
            with Image.open(file, formats=("PNG", "JPEG")) as image:
                if image.mode != "RGB" or image.size != (32, 32):
                    width, height = image.size
                    raise DataError(
                        f"{_display_file(data_root, file)} has shape ({len(image.getbands())}, {height}, "
                        f"{width}) (mode {image.mode}); CIFAR-10 images are (3, 32, 32) RGB. "
                        "Fix: replace it with a 32x32 RGB image or remove it."
                    )
                pixels[index] = np.asarray(image)
        except OSError as error:  # Pillow: not an image (UnidentifiedImageError), truncated, broken stream
            raise DataError(
                f"{_display_file(data_root, file)} is not a readable image ({error}). "
                "Fix: replace it with an intact copy or remove it."
            ) from None
    images = torch.from_numpy(pixels).permute(0, 3, 1, 2).contiguous()  # (N, H, W, C) -> (N, C, H, W)
    labels = torch.tensor([CIFAR10_CLASSES.index(file.parent.name) for file in files], dtype=torch.int64)
    return images, labels, CIFAR10_CLASSES


def _display_file(data_root: Path, file: Path) -> str:
    """A file as ``<root>/train/cat/0001.jpg``: the data root shortened, the rest kept."""
    return f"{paths.shown_path(data_root)}/{file.relative_to(data_root).as_posix()}"


# ----------------------------------------------------------------------------------------------
# Augmentation and normalisation


def augment(images: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Random horizontal flip and random crop of the zero-padded image, for a whole batch at once.

    uint8 (B, C, H, W) -> uint8 (B, C, H, W). With P = CROP_PADDING, per image b: a coin ``flip_b``
    and offsets ``top_b, left_b`` uniform in [0, 2P]; ``source_b`` is the image, mirrored if ``flip_b``,
    padded with P zeros on each side, and ``out[b] = source_b[:, top_b : top_b + H, left_b : left_b + W]``.
    (Mirroring before cropping at ``left_b`` equals cropping at ``2P - left_b`` then mirroring: the
    usual crop + flip.) Random numbers come only from ``generator``.
    """
    if not isinstance(images, torch.Tensor) or images.dtype != torch.uint8:
        raise TypeError(f"augment expects a uint8 image tensor, got {_describe(images)}; augment before normalize().")
    if images.dim() != 4:
        raise ValueError(
            f"augment expects a batch (B, C, H, W), got shape {tuple(images.shape)}; for one image use images[None]."
        )
    if not isinstance(generator, torch.Generator):
        raise TypeError(f"generator must be a torch.Generator, got {type(generator).__name__}.")
    batch, channels, height, width = images.shape
    offsets = 2 * CROP_PADDING + 1

    def draw(high: int) -> torch.Tensor:  # (B,) integers in [0, high)
        return torch.randint(0, high, (batch,), generator=generator, device=generator.device).to(images.device)

    flip, top, left = draw(2), draw(offsets), draw(offsets)
    padded = F.pad(images, (CROP_PADDING,) * 4)  # (B, C, Hp, Wp) = (B, C, H + 2P, W + 2P), zeros around
    sources = torch.cat([padded, padded.flip(3)]).flatten()  # each image, then each mirrored image: (2 B C Hp Wp,)
    padded_height, padded_width = padded.shape[2:]
    image_size = channels * padded_height * padded_width
    # A view (no copy) whose entry k is the (C, H, W) window starting at flat position k of `sources`.
    crop_extent = (channels - 1) * padded_height * padded_width + (height - 1) * padded_width + width
    windows = sources.as_strided(
        (sources.numel() - crop_extent + 1, channels, height, width), (1, padded_height * padded_width, padded_width, 1)
    )
    start = (torch.arange(batch, device=images.device) + batch * flip) * image_size + top * padded_width + left  # (B,)
    return windows.index_select(0, start)  # (B, C, H, W)


def normalize(images: torch.Tensor) -> torch.Tensor:
    """uint8 (..., 3, H, W) -> float32 ``x = (images / 255 - mean) / std`` per channel."""
    if not isinstance(images, torch.Tensor) or images.dtype != torch.uint8:
        raise TypeError(f"normalize expects uint8 images (0..255), got {_describe(images)}.")
    if images.dim() < 3 or images.shape[-3] != 3:
        raise ValueError(f"normalize expects (..., 3, H, W), got shape {tuple(images.shape)}.")
    mean, std = _channel_stats(images.device)
    return (images.float() * (1 / (255 * std))).add_(-mean / std)  # one pass over the batch, same x


def denormalize(x: torch.Tensor) -> torch.Tensor:
    """Normalised float (..., 3, H, W) -> float in [0, 1] for plotting: ``clamp(x * std + mean, 0, 1)``."""
    if not isinstance(x, torch.Tensor) or not x.is_floating_point():
        raise TypeError(f"denormalize expects a float tensor from normalize(), got {_describe(x)}.")
    if x.dim() < 3 or x.shape[-3] != 3:
        raise ValueError(f"denormalize expects (..., 3, H, W), got shape {tuple(x.shape)}.")
    mean, std = _channel_stats(x.device)
    return (x * std + mean).clamp(0, 1)


def _channel_stats(device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """CIFAR-10 mean and std, each (3, 1, 1) to broadcast over (..., 3, H, W)."""
    mean = torch.tensor(CIFAR10_MEAN, device=device).view(3, 1, 1)
    std = torch.tensor(CIFAR10_STD, device=device).view(3, 1, 1)
    return mean, std


# ----------------------------------------------------------------------------------------------
# Batches


class BatchIterator:
    """Batches ``(x float32 (B, 3, 32, 32) normalised, y int64 (B,))`` of one pass over the data.

    Every iteration restarts from the same generator seeded from (seed, epoch), so iterating twice,
    or in a resumed run, gives identical batches.
    """

    def __init__(
        self,
        data: CifarTensors,
        batch_size: int,
        *,
        train: bool,
        seed: int,
        epoch: int,
        drop_last: bool,
        device: torch.device,
    ) -> None:
        self.data = data
        self.batch_size = batch_size
        self.train = train
        self.seed = seed
        self.epoch = epoch
        self.drop_last = drop_last
        self.device = device

    def __len__(self) -> int:
        full, rest = divmod(len(self.data), self.batch_size)
        return full if self.drop_last or rest == 0 else full + 1

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        generator = torch.Generator().manual_seed(_epoch_seed(self.seed, self.epoch))
        order = torch.randperm(len(self.data), generator=generator) if self.train else torch.arange(len(self.data))
        for start in range(0, len(self) * self.batch_size, self.batch_size):
            index = order[start : start + self.batch_size]  # (B,)
            images = self.data.images.index_select(0, index)  # uint8 (B, 3, 32, 32)
            if self.train:
                images = augment(images, generator)
            yield normalize(images.to(self.device)), self.data.labels.index_select(0, index).to(self.device)


def batches(
    data: CifarTensors,
    batch_size: int,
    *,
    train: bool,
    seed: int = 0,
    epoch: int = 0,
    drop_last: bool | None = None,
    device: str | torch.device = "cpu",
) -> BatchIterator:
    """Iterate over ``data`` in batches of normalised images.

    ``train=True``: shuffled and augmented with a generator seeded from (seed, epoch); ``drop_last``
    defaults to True. ``train=False``: data order, no augmentation, ``drop_last`` defaults to False.
    """
    if not isinstance(data, CifarTensors):
        raise TypeError(f"data must be a CifarTensors (from load_cifar10), got {type(data).__name__}.")
    check_int("batch_size", batch_size)
    check_int("seed", seed, minimum=0)
    check_int("epoch", epoch, minimum=0)
    if len(data) == 0:
        raise ValueError(f"data from {data.source} holds no images; load a non-empty split.")
    drop_last = train if drop_last is None else drop_last
    if drop_last and batch_size > len(data):
        raise ValueError(
            f"batch_size {batch_size} is larger than the {len(data)} images, and drop_last=True "
            "would leave no batch. Fix: use a smaller batch_size or drop_last=False."
        )
    return BatchIterator(
        data, batch_size, train=train, seed=seed, epoch=epoch, drop_last=drop_last, device=torch.device(device)
    )


def _epoch_seed(seed: int, epoch: int) -> int:
    """A 63-bit generator seed from (seed, epoch): distinct pairs give unrelated streams."""
    digest = hashlib.sha256(f"{seed}/{epoch}".encode()).digest()
    return int.from_bytes(digest[:8], "little") >> 1


# ----------------------------------------------------------------------------------------------
# Message helpers


def _describe(value: object) -> str:
    if isinstance(value, torch.Tensor):
        return f"a {value.dtype} tensor of shape {tuple(value.shape)}"
    return type(value).__name__


def _join(items: Iterable[object]) -> str:
    return ", ".join(str(item) for item in items)
