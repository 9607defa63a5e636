"""Tests of vggattn.data on tiny fixtures written to tmp_path: both layouts, errors, cache, augmentation, batches."""

from __future__ import annotations

import os
import pickle
import urllib.error
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from helpers import TEST_PER_CLASS, TRAIN_PER_CLASS, write_imagefolder
from PIL import Image
from torchvision.datasets import cifar as torchvision_cifar

from vggattn import data, paths
from vggattn.data import (
    CIFAR10_CLASSES,
    CIFAR10_MEAN,
    CIFAR10_STD,
    CifarTensors,
    DataError,
    augment,
    batches,
    denormalize,
    find_data_root,
    find_or_download,
    load_cifar10,
    load_cifar10_splits,
    normalize,
)


@pytest.fixture(autouse=True)
def isolated_locations(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No real data or cache: $VGGATTN_DATA unset, the default data and cache folders in tmp_path."""
    monkeypatch.delenv("VGGATTN_DATA", raising=False)
    default_data = tmp_path / "default-data"
    monkeypatch.setattr(paths, "data_dir", lambda: default_data)  # the project's data folder
    monkeypatch.setattr(paths, "cache_dir", lambda: tmp_path / "cache")


def random_pixels(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    return rng.integers(0, 256, shape, dtype=np.uint8)


def write_canonical(root: Path, seed: int = 0) -> dict[str, tuple[np.ndarray, list[int]]]:
    """root/cifar-10-batches-py in CIFAR-10's pickle format, 1 image per class per batch file.

    The real files were pickled by Python 2 and torchvision unpickles them with encoding="latin1",
    which turns their keys into str: the fixture writes str keys ("data", "labels", "label_names").
    """
    rng = np.random.default_rng(seed)
    folder = root / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    written: dict[str, tuple[np.ndarray, list[int]]] = {}
    for name in ["data_batch_1", "data_batch_2", "data_batch_3", "data_batch_4", "data_batch_5", "test_batch"]:
        labels = [int(label) for label in rng.permutation(10)]
        rows = random_pixels(rng, (10, 3 * 32 * 32))  # (N, 3072): 1024 red, then green, then blue values
        with open(folder / name, "wb") as file:
            pickle.dump({"batch_label": name, "labels": labels, "data": rows}, file, protocol=2)
        written[name] = (rows, labels)
    with open(folder / "batches.meta", "wb") as file:
        pickle.dump({"label_names": list(CIFAR10_CLASSES), "num_cases_per_batch": 10}, file, protocol=2)
    return written


@pytest.fixture
def trust_fixture_checksums(monkeypatch: pytest.MonkeyPatch) -> None:
    """torchvision's CIFAR10 checks every file's md5 against the real archive's; accept any file that exists."""
    monkeypatch.setattr(torchvision_cifar, "check_integrity", lambda path, md5=None: os.path.isfile(path))


def test_batched_jpeg_decoding_gives_pillows_pixels_without_a_warning(imagefolder_root: Path) -> None:
    jpegs = sorted(imagefolder_root.glob("*/*/*.jpg"))
    pillow = np.stack([np.asarray(Image.open(file)) for file in jpegs])
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # torchvision's deprecation notice must not reach the user
        batched = data._decode_jpegs_batched(jpegs)
    assert batched is not None and batched.shape == (len(jpegs), 32, 32, 3)
    np.testing.assert_array_equal(batched, pillow)
    assert data._decode_jpegs_batched(jpegs[:1] + [imagefolder_root / "missing.jpg"]) is None  # caller falls back


# ----------------------------------------------------------------------------------------------
# Both layouts load


def test_canonical_layout_loads_pixels_labels_and_classes(tmp_path: Path, trust_fixture_checksums: None) -> None:
    written = write_canonical(tmp_path / "canonical")
    train, test = load_cifar10_splits(tmp_path / "canonical")

    assert find_data_root(tmp_path / "canonical") == (tmp_path / "canonical", "canonical")
    assert train.images.shape == (50, 3, 32, 32) and train.images.dtype == torch.uint8
    assert train.labels.shape == (50,) and train.labels.dtype == torch.int64
    assert len(test) == 10 and train.classes == CIFAR10_CLASSES
    assert train.counts() == dict.fromkeys(CIFAR10_CLASSES, 5)
    rows, labels = written["data_batch_2"]
    assert torch.equal(train.images[10:20], torch.from_numpy(rows).view(10, 3, 32, 32))
    assert train.labels[10:20].tolist() == labels
    assert test.source == "canonical CIFAR-10 at <canonical> (test)"


def test_imagefolder_layout_loads_pixels_labels_and_classes(tmp_path: Path) -> None:
    imagefolder_root = tmp_path / "jpg-copy"
    written = write_imagefolder(imagefolder_root)
    train = load_cifar10("train", imagefolder_root)

    assert find_data_root(imagefolder_root) == (imagefolder_root, "imagefolder")
    assert train.images.shape == (40, 3, 32, 32) and train.images.dtype == torch.uint8
    assert train.labels.tolist() == [label for label in range(10) for _ in range(TRAIN_PER_CLASS)]
    assert train.counts() == dict.fromkeys(CIFAR10_CLASSES, TRAIN_PER_CLASS)
    png = torch.from_numpy(written["train"][0]).permute(2, 0, 1)  # 0000.png of airplane, lossless
    jpeg = torch.from_numpy(written["train"][1]).permute(2, 0, 1)  # 0001.jpg of airplane, lossy
    assert torch.equal(train.images[0], png)
    assert (train.images[1].int() - jpeg.int()).abs().max() <= 8  # JPEG is lossy
    assert len(load_cifar10("test", imagefolder_root)) == 10 * TEST_PER_CLASS
    assert train.source == "ImageFolder copy at <jpg-copy> (train)"


def test_unknown_split_is_refused(imagefolder_root: Path) -> None:
    with pytest.raises(ValueError, match=r"split must be one of \('train', 'test'\), got 'val'"):
        load_cifar10("val", imagefolder_root)


# ----------------------------------------------------------------------------------------------
# Where the data is looked for


def test_resolution_order_is_explicit_then_env_then_default(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, trust_fixture_checksums: None
) -> None:
    explicit, from_env, default = tmp_path / "explicit", tmp_path / "from-env", tmp_path / "default-data"
    write_imagefolder(explicit)
    write_canonical(from_env)
    write_imagefolder(default)

    assert find_data_root() == (default, "imagefolder")
    monkeypatch.setenv("VGGATTN_DATA", str(from_env))
    assert find_data_root() == (from_env, "canonical")
    assert find_data_root(explicit) == (explicit, "imagefolder")


def test_relative_env_path_is_also_tried_from_the_project_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    project = tmp_path / "project"
    write_imagefolder(project / "copies" / "cifar")
    (project / "notebooks").mkdir()
    monkeypatch.setattr(paths, "project_root", lambda: project)
    monkeypatch.chdir(project / "notebooks")  # where a notebook's kernel runs
    monkeypatch.setenv("VGGATTN_DATA", "copies/cifar")  # exported relative to the project root
    assert find_data_root() == (project / "copies" / "cifar", "imagefolder")
    monkeypatch.setenv("VGGATTN_DATA", "elsewhere")
    with pytest.raises(DataError, match=r"\(\$VGGATTN_DATA, relative to the project root\): does not exist"):
        find_data_root()


def test_explicit_root_without_data_does_not_fall_back(tmp_path: Path) -> None:
    write_imagefolder(tmp_path / "default-data")
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match=r"empty \(--data-root / root=\): holds neither cifar-10-batches-py/ nor"):
        find_data_root(tmp_path / "empty")


def test_offline_error_names_each_place_and_the_fix(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def offline(*args: object, **kwargs: object) -> None:
        raise urllib.error.URLError("Temporary failure in name resolution")

    monkeypatch.setattr(torchvision_cifar, "download_and_extract_archive", offline)
    (tmp_path / "env-data").mkdir()
    monkeypatch.setenv("VGGATTN_DATA", str(tmp_path / "env-data"))

    with pytest.raises(DataError) as caught:
        load_cifar10("train")
    message = str(caught.value)
    assert f"{tmp_path / 'env-data'} ($VGGATTN_DATA): holds neither" in message  # the path as typed
    assert f"Downloading it into {tmp_path / 'env-data'} failed (URLError: Temporary failure" in message
    assert "export VGGATTN_DATA=" in message and "--data-root" in message and "root=" in message
    assert caught.value.__cause__ is None and caught.value.__suppress_context__  # no urllib traceback chained


def test_download_lands_in_the_default_folder_and_is_loaded(
    monkeypatch: pytest.MonkeyPatch, trust_fixture_checksums: None
) -> None:
    def fake_download(url: str, download_root: str, **kwargs: object) -> None:
        write_canonical(Path(download_root))

    monkeypatch.setattr(torchvision_cifar, "download_and_extract_archive", fake_download)
    train = load_cifar10("train")
    assert len(train) == 50 and train.source == "canonical CIFAR-10 at <default-data> (train)"


def test_a_first_run_online_finds_nothing_downloads_and_loads(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, trust_fixture_checksums: None
) -> None:
    """A new user: `git clone`, `make run`, with internet, no data and VGGATTN_DATA unset. Notebook 00's data
    cells make these calls; torchvision's download is replaced by a writer of a tiny canonical archive."""
    downloads: list[str] = []

    def fake_download(url: str, download_root: str, **kwargs: object) -> None:
        downloads.append(download_root)
        write_canonical(Path(download_root))

    monkeypatch.setattr(torchvision_cifar, "download_and_extract_archive", fake_download)
    notebook = (Path(__file__).resolve().parents[1] / "notebooks" / "00_setup_and_data.ipynb").read_text("utf-8")
    assert "find_or_download(DATA_ROOT)" in notebook  # the notebook's first data cell downloads, not only looks
    root, layout = find_or_download(None)  # cell "where the data comes from"
    train, test = load_cifar10_splits(None)  # cell "the whole dataset as tensors"
    assert layout == "canonical" and root == tmp_path / "default-data" and len(downloads) == 1
    assert len(train) == 50 and len(test) == 10


def test_a_typo_in_the_data_root_says_does_not_exist_and_creates_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def must_not_download(*args: object, **kwargs: object) -> None:
        raise AssertionError("download attempted")

    monkeypatch.setattr(torchvision_cifar, "download_and_extract_archive", must_not_download)
    typo = tmp_path / "cifra10"
    with pytest.raises(DataError, match=r"cifra10 \(--data-root / root=\) does not exist: fix --data-root"):
        load_cifar10_splits(typo)
    monkeypatch.setenv("VGGATTN_DATA", str(typo))
    with pytest.raises(DataError, match=r"cifra10 \(\$VGGATTN_DATA\) does not exist: fix or unset VGGATTN_DATA"):
        load_cifar10("train")
    assert not typo.exists()


def test_the_project_data_folder_is_searched_even_with_vggattn_data_set(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_imagefolder(tmp_path / "default-data")
    (tmp_path / "empty-copy").mkdir()
    monkeypatch.setenv("VGGATTN_DATA", str(tmp_path / "empty-copy"))
    assert find_data_root() == (tmp_path / "default-data", "imagefolder")


def test_no_download_attempt_when_download_is_false(monkeypatch: pytest.MonkeyPatch) -> None:
    def must_not_download(*args: object, **kwargs: object) -> None:
        raise AssertionError("download attempted")

    monkeypatch.setattr(torchvision_cifar, "download_and_extract_archive", must_not_download)
    only_default = r"Looked in:\n  - \S*default-data \(the project's data folder\): does not exist\nFix:"
    with pytest.raises(DataError, match=only_default):
        load_cifar10("train", download=False)


# ----------------------------------------------------------------------------------------------
# Bad data is named


def test_corrupt_image_names_the_file(imagefolder_root: Path) -> None:
    (imagefolder_root / "train" / "cat" / "0001.jpg").write_bytes(b"not a jpeg")
    with pytest.raises(DataError, match=r"/jpg-copy/train/cat/0001\.jpg is not a readable image"):
        load_cifar10("train", imagefolder_root)


def test_wrong_size_image_names_the_file_and_its_shape(imagefolder_root: Path) -> None:
    Image.fromarray(np.zeros((16, 24, 3), np.uint8)).save(imagefolder_root / "test" / "dog" / "0000.png")
    with pytest.raises(DataError, match=r"/jpg-copy/test/dog/0000\.png has shape \(3, 16, 24\)"):
        load_cifar10("test", imagefolder_root)


def test_grayscale_image_names_the_file_and_its_shape(imagefolder_root: Path) -> None:
    Image.fromarray(np.zeros((32, 32), np.uint8)).save(imagefolder_root / "test" / "frog" / "0001.jpg")
    with pytest.raises(DataError, match=r"test/frog/0001\.jpg has shape \(1, 32, 32\) \(mode L\)"):
        load_cifar10("test", imagefolder_root)


def test_non_image_file_is_named(imagefolder_root: Path) -> None:
    (imagefolder_root / "train" / "ship" / "notes.txt").write_text("labels")
    with pytest.raises(DataError, match=r"train/ship/notes\.txt is not a \.png/\.jpg/\.jpeg image"):
        load_cifar10("train", imagefolder_root)


def test_missing_or_misnamed_class_folders_are_named(imagefolder_root: Path) -> None:
    for file in (imagefolder_root / "train" / "dog").iterdir():
        file.unlink()
    (imagefolder_root / "train" / "dog").rmdir()
    with pytest.raises(DataError, match=r"missing class folder\(s\) dog\. It must hold exactly"):
        load_cifar10("train", imagefolder_root)

    (imagefolder_root / "test" / "cat").rename(imagefolder_root / "test" / "Cat")
    with pytest.raises(DataError, match=r"missing class folder\(s\) cat; unexpected folder\(s\) Cat"):
        load_cifar10("test", imagefolder_root)


def test_canonical_file_with_wrong_checksum_is_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write_canonical(tmp_path / "canonical")
    monkeypatch.setattr(
        torchvision_cifar, "check_integrity", lambda path, md5=None: not str(path).endswith("data_batch_3")
    )
    with pytest.raises(DataError, match=r"/canonical/cifar-10-batches-py/data_batch_3 is corrupted"):
        load_cifar10("train", tmp_path / "canonical")


# ----------------------------------------------------------------------------------------------
# Subsets


def test_subset_per_class_is_deterministic_and_seeded(tiny_cifar: CifarTensors) -> None:
    first, again = tiny_cifar.subset_per_class(3), tiny_cifar.subset_per_class(3)
    other_seed = tiny_cifar.subset_per_class(3, seed=1)

    assert first.counts() == dict.fromkeys(CIFAR10_CLASSES, 3)
    assert torch.equal(first.images, again.images) and torch.equal(first.labels, again.labels)
    assert not torch.equal(first.images, other_seed.images)
    assert first.labels.tolist() == sorted(first.labels.tolist())  # original order kept
    with pytest.raises(ValueError, match="cannot take 21 images per class: airplane has 20"):
        tiny_cifar.subset_per_class(21)
    with pytest.raises(ValueError, match=r"n \(images per class\) must be >= 1, got 0"):
        tiny_cifar.subset_per_class(0)
    with pytest.raises(TypeError, match=r"n \(images per class\) must be an int, got float 2.5"):
        tiny_cifar.subset_per_class(2.5)  # type: ignore[arg-type]


def test_load_with_subset_equals_subset_of_full_split(imagefolder_root: Path) -> None:
    subset = load_cifar10("train", imagefolder_root, subset_per_class=2)
    expected = load_cifar10("train", imagefolder_root).subset_per_class(2)
    assert torch.equal(subset.images, expected.images) and subset.counts() == dict.fromkeys(CIFAR10_CLASSES, 2)


# ----------------------------------------------------------------------------------------------
# The cache


def test_second_load_comes_from_cache_without_decoding(imagefolder_root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    first = load_cifar10("train", imagefolder_root)
    assert len(list(paths.cache_dir().glob("cifar10-imagefolder-train-*.pt"))) == 1

    def must_not_decode(*args: object) -> None:
        raise AssertionError("decoded although the cache is fresh")

    monkeypatch.setattr(data, "_decode_imagefolder", must_not_decode)
    cached = load_cifar10("train", imagefolder_root)
    assert torch.equal(cached.images, first.images) and torch.equal(cached.labels, first.labels)
    with pytest.raises(AssertionError, match="decoded although"):
        load_cifar10("train", imagefolder_root, cache=False)


def test_cache_is_rebuilt_when_a_file_changes(imagefolder_root: Path) -> None:
    load_cifar10("train", imagefolder_root)
    changed = imagefolder_root / "train" / "bird" / "0000.png"
    new_pixels = np.full((32, 32, 3), 7, np.uint8)
    Image.fromarray(new_pixels).save(changed)
    os.utime(changed, ns=(changed.stat().st_atime_ns, changed.stat().st_mtime_ns + 10**9))

    reloaded = load_cifar10("train", imagefolder_root)
    bird_first = CIFAR10_CLASSES.index("bird") * TRAIN_PER_CLASS
    assert torch.equal(reloaded.images[bird_first], torch.full((3, 32, 32), 7, dtype=torch.uint8))


def test_corrupt_cache_file_is_rebuilt(imagefolder_root: Path) -> None:
    first = load_cifar10("test", imagefolder_root)
    (cache_file,) = paths.cache_dir().glob("cifar10-imagefolder-test-*.pt")
    cache_file.write_bytes(b"truncated")

    assert torch.equal(load_cifar10("test", imagefolder_root).images, first.images)
    assert torch.load(cache_file, weights_only=True)["images"].shape == (20, 3, 32, 32)


# ----------------------------------------------------------------------------------------------
# CifarTensors


def test_cifar_tensors_refuses_wrong_dtypes_and_shapes(tiny_cifar: CifarTensors) -> None:
    with pytest.raises(TypeError, match="images must be a uint8 tensor, got a torch.float32 tensor"):
        CifarTensors(tiny_cifar.images.float(), tiny_cifar.labels, CIFAR10_CLASSES, "bad")
    with pytest.raises(ValueError, match=r"labels must have shape \(200,\), one per image, got \(199,\)"):
        CifarTensors(tiny_cifar.images, tiny_cifar.labels[:-1], CIFAR10_CLASSES, "bad")
    with pytest.raises(ValueError, match=r"labels must lie in \[0, 10\)"):
        CifarTensors(tiny_cifar.images, tiny_cifar.labels + 1, CIFAR10_CLASSES, "bad")
    assert repr(tiny_cifar).startswith("CifarTensors(200 images, 10 classes")


# ----------------------------------------------------------------------------------------------
# Augmentation and normalisation


def crops_and_flips(image: torch.Tensor) -> list[tuple[int, int, bool, torch.Tensor]]:
    """Every (top, left, flip, 32x32 crop) of the image padded with 4 zero pixels (81 offsets x 2 flips)."""
    padded = F.pad(image, (4, 4, 4, 4))
    crops = []
    for top in range(9):
        for left in range(9):
            crop = padded[:, top : top + 32, left : left + 32]
            crops += [(top, left, False, crop), (top, left, True, crop.flip(-1))]
    return crops


def test_augment_output_is_a_padded_crop_optionally_flipped(tiny_cifar: CifarTensors) -> None:
    images = tiny_cifar.images[:48]
    out = augment(images, torch.Generator().manual_seed(0))

    assert out.shape == images.shape and out.dtype == torch.uint8
    matched = []
    for image, augmented in zip(images, out):
        matches = [
            (top, left, flip) for top, left, flip, crop in crops_and_flips(image) if torch.equal(crop, augmented)
        ]
        assert len(matches) == 1  # random pixels: exactly one crop and flip explains the output
        matched.append(matches[0])
    assert {flip for _, _, flip in matched} == {False, True}
    assert len({(top, left) for top, left, _ in matched}) > 10  # offsets vary across the batch


def test_augment_is_seeded_only_by_its_generator(tiny_cifar: CifarTensors) -> None:
    images = tiny_cifar.images[:32]
    torch.manual_seed(123)
    first = augment(images, torch.Generator().manual_seed(5))
    torch.manual_seed(456)  # the global RNG must not matter
    again = augment(images, torch.Generator().manual_seed(5))
    other = augment(images, torch.Generator().manual_seed(6))
    assert torch.equal(first, again) and not torch.equal(first, other)


def test_augment_refuses_bad_input(tiny_cifar: CifarTensors) -> None:
    generator = torch.Generator()
    with pytest.raises(TypeError, match="augment expects a uint8 image tensor, got a torch.float32"):
        augment(tiny_cifar.images.float(), generator)
    with pytest.raises(ValueError, match=r"augment expects a batch \(B, C, H, W\), got shape \(3, 32, 32\)"):
        augment(tiny_cifar.images[0], generator)
    with pytest.raises(TypeError, match="generator must be a torch.Generator, got int"):
        augment(tiny_cifar.images, 0)  # type: ignore[arg-type]


def test_normalize_matches_formula_and_denormalize_inverts_it(tiny_cifar: CifarTensors) -> None:
    images = tiny_cifar.images[:4]
    x = normalize(images)
    mean, std = torch.tensor(CIFAR10_MEAN), torch.tensor(CIFAR10_STD)
    expected = (images.float() / 255 - mean[:, None, None]) / std[:, None, None]

    assert x.dtype == torch.float32 and torch.allclose(x, expected, atol=1e-6)  # same x up to float rounding
    assert torch.allclose(denormalize(x), images.float() / 255, atol=1e-6)
    with pytest.raises(TypeError, match="normalize expects uint8 images"):
        normalize(x)
    with pytest.raises(TypeError, match="denormalize expects a float tensor"):
        denormalize(images)


# ----------------------------------------------------------------------------------------------
# Batches


def test_batch_counts_and_drop_last(tiny_cifar: CifarTensors) -> None:
    train = batches(tiny_cifar, 64, train=True)
    evaluation = batches(tiny_cifar, 64, train=False)
    kept = batches(tiny_cifar, 64, train=True, drop_last=False)

    assert len(train) == 3 and [len(y) for _, y in train] == [64, 64, 64]
    assert len(evaluation) == 4 and [len(y) for _, y in evaluation] == [64, 64, 64, 8]
    assert len(kept) == 4 and sum(len(y) for _, y in kept) == 200
    x, y = next(iter(train))
    assert x.shape == (64, 3, 32, 32) and x.dtype == torch.float32 and y.dtype == torch.int64


def test_training_batches_repeat_for_same_seed_and_epoch_and_differ_otherwise(tiny_cifar: CifarTensors) -> None:
    epoch_0 = list(batches(tiny_cifar, 50, train=True, seed=3, epoch=0))
    iterator = batches(tiny_cifar, 50, train=True, seed=3, epoch=0)
    first_pass, second_pass = list(iterator), list(iterator)
    epoch_1 = list(batches(tiny_cifar, 50, train=True, seed=3, epoch=1))
    other_seed = list(batches(tiny_cifar, 50, train=True, seed=4, epoch=0))

    for same in (first_pass, second_pass):
        assert all(torch.equal(x, x2) and torch.equal(y, y2) for (x, y), (x2, y2) in zip(epoch_0, same))
    assert not torch.equal(epoch_0[0][1], epoch_1[0][1])
    assert not torch.equal(epoch_0[0][1], other_seed[0][1])
    all_labels = torch.cat([y for _, y in epoch_0])  # 200 images, batch 50: every image once
    assert torch.equal(all_labels.sort().values, tiny_cifar.labels.sort().values)


def test_evaluation_batches_follow_data_order_without_augmentation(tiny_cifar: CifarTensors) -> None:
    x = torch.cat([x for x, _ in batches(tiny_cifar, 64, train=False)])
    y = torch.cat([y for _, y in batches(tiny_cifar, 64, train=False)])
    assert torch.equal(x, normalize(tiny_cifar.images)) and torch.equal(y, tiny_cifar.labels)


def test_bad_batch_sizes_and_empty_data_are_refused(tiny_cifar: CifarTensors) -> None:
    for size in (0, -1):
        with pytest.raises(ValueError, match=f"batch_size must be >= 1, got {size}"):
            batches(tiny_cifar, size, train=True)
    with pytest.raises(TypeError, match="batch_size must be an int, got float 1.5"):
        batches(tiny_cifar, 1.5, train=False)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="seed must be >= 0, got -1"):
        batches(tiny_cifar, 8, train=True, seed=-1)
    with pytest.raises(TypeError, match="epoch must be an int, got str '1'"):
        batches(tiny_cifar, 8, train=True, epoch="1")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="batch_size 256 is larger than the 200 images, and drop_last=True"):
        batches(tiny_cifar, 256, train=True)
    assert len(batches(tiny_cifar, 256, train=False)) == 1
    empty = CifarTensors(tiny_cifar.images[:0], tiny_cifar.labels[:0], CIFAR10_CLASSES, "empty")
    with pytest.raises(ValueError, match="data from empty holds no images"):
        batches(empty, 8, train=False)
    with pytest.raises(TypeError, match="data must be a CifarTensors"):
        batches(tiny_cifar.images, 8, train=False)  # type: ignore[arg-type]
