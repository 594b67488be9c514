"""Bad and unusual image files: each loads as the right RGB picture or raises the course's error, fast.

The corpus (tests/corpus.py) is written into a temporary folder: truncated and corrupt files,
text, HTML and SVG named .jpg, CMYK, 16-bit, palette+transparency, LA, EXIF orientations 2–8,
1×1, decompression bombs, animated GIF, multi-page TIFF, WebP, ICC profiles, unicode names.
A bounded fuzzer then mutates valid files of every format.
"""

from __future__ import annotations

import faulthandler
import random
import re
import time
import warnings

import numpy as np
import pytest
from PIL import Image

from course_utils.core.errors import DatasetError, ImageLoadError
from course_utils.data.datasets import ImageFolderDataset
from course_utils.data.images import load_image, load_images
from tests import corpus
from tests.reliability_summary import tally

#: Seconds one file may take (a hang or a runaway decode fails the test instead of stalling CI).
PER_FILE_LIMIT = 5.0
#: A hard watchdog: dump the stacks and end the process if a single load ever hangs in C code.
WATCHDOG = 60


def _load_timed(src) -> tuple[Image.Image | None, BaseException | None, float]:
    start = time.perf_counter()
    faulthandler.dump_traceback_later(WATCHDOG, exit=True)
    try:
        with warnings.catch_warnings():  # PIL warns about corrupt metadata it skips; the result is what counts
            warnings.simplefilter("ignore", UserWarning)
            return load_image(src), None, time.perf_counter() - start
    except Exception as exc:  # judged by the caller: only the course's own error is acceptable
        return None, exc, time.perf_counter() - start
    finally:
        faulthandler.cancel_dump_traceback_later()


def _assert_clean_course_error(exc: BaseException | None, what: str) -> ImageLoadError:
    """The error is the course's, short, and carries no chained internal traceback."""
    assert isinstance(exc, ImageLoadError), f"{what}: expected ImageLoadError, got {type(exc).__name__}: {exc}"
    assert exc.__cause__ is None and (exc.__context__ is None or exc.__suppress_context__), (
        f"{what}: the error chains an internal traceback ({exc.__context__!r})"
    )
    assert 0 < len(str(exc)) < 600, f"{what}: message of {len(str(exc))} characters"
    return exc


@pytest.fixture(scope="module")
def cases(tmp_path_factory):
    return corpus.build(tmp_path_factory.mktemp("bad images"))


def test_corpus_is_broad(cases):
    loads = [c for c in cases if c.must_load]
    refused = [c for c in cases if not c.must_load]
    assert len(cases) >= 20 and len(loads) >= 10 and len(refused) >= 10
    names = " ".join(c.name for c in cases)
    for kind in (
        "truncated.jpg",
        "truncated.png",
        "zero-bytes",
        "notes.jpg",
        "error-page",
        "cmyk",
        "grey16.png",
        "palette-transparent",
        "LA",
        "grey16.tif",
        "one-pixel",
        "bomb",
        "animated.gif",
        "multipage.tif",
        "icc",
        "🐱",
        " ",
    ) + tuple(f"orientation-{o}" for o in range(2, 9)):
        assert kind in names, f"the corpus lacks a {kind!r} case"


def test_every_corpus_file_loads_correctly_or_fails_clearly(cases):
    slow, wrong = [], []
    for case in cases:
        img, exc, seconds = _load_timed(case.path)
        if seconds > PER_FILE_LIMIT:
            slow.append(f"{case.name}: {seconds:.1f} s")
        if case.must_load:
            if exc is not None:
                wrong.append(f"{case.name}: should load, raised {type(exc).__name__}: {exc}")
                continue
            arr = np.asarray(img)
            if img.mode != "RGB" or arr.shape != case.expected.shape:
                wrong.append(f"{case.name}: got {img.mode} {arr.shape}, expected RGB {case.expected.shape}")
                continue
            diff = float(np.abs(arr.astype(np.int16) - case.expected).mean())
            if diff > case.tolerance:
                wrong.append(f"{case.name}: pixels differ by {diff:.2f} on average (allowed {case.tolerance})")
        else:
            if exc is None:
                wrong.append(f"{case.name}: should be refused, loaded as {img.mode} {img.size}")
                continue
            err = _assert_clean_course_error(exc, case.name)
            if str(case.path) not in str(err):
                wrong.append(f"{case.name}: the message does not name the file: {err}")
            if not re.search(case.problem, str(err)):
                wrong.append(f"{case.name}: the message does not say {case.problem!r}: {err}")
    tally(inputs=len(cases), faults=sum(not c.must_load for c in cases))
    assert not slow, slow
    assert not wrong, "\n".join(wrong)


def test_corpus_as_bytes_and_open_pil_images(cases):
    """The same files given as raw bytes, and as PIL images a learner opened themselves."""
    files = [c for c in cases if c.path.is_file() and not c.path.is_symlink()]
    for case in files:
        data = case.path.read_bytes()
        img, exc, _ = _load_timed(data)
        if case.must_load:
            assert exc is None and img.mode == "RGB" and img.size[::-1] == case.expected.shape[:2], (case.name, exc)
        else:
            _assert_clean_course_error(exc, case.name)
            assert f"<{len(data)} bytes>" in str(exc)
    for case in (c for c in files if c.must_load):
        with Image.open(case.path) as opened:
            img, exc, _ = _load_timed(opened)
        assert exc is None and np.abs(np.asarray(img).astype(np.int16) - case.expected).mean() <= case.tolerance, (
            case.name
        )
    tally(inputs=len(files) + sum(c.must_load for c in files), faults=sum(not c.must_load for c in files))


def test_folder_helpers_report_every_bad_file(cases, tmp_path):
    """A dataset folder with some corpus files in it names each unreadable one instead of crashing mid-epoch."""
    bad = [c for c in cases if not c.must_load and c.path.is_file() and c.path.suffix in (".jpg", ".png", ".gif")]
    good = [c for c in cases if c.must_load and c.path.suffix in (".jpg", ".png")]
    for cls, group in (("a", good[:4] + bad[: len(bad) // 2]), ("b", good[4:8] + bad[len(bad) // 2 :])):
        (tmp_path / cls).mkdir()
        for c in group:
            (tmp_path / cls / c.name).write_bytes(c.path.read_bytes())
    with pytest.raises(DatasetError) as info:
        ImageFolderDataset(tmp_path)
    message = str(info.value)
    assert f"{len(bad)} unreadable image(s)" in message
    assert sum(c.name in message for c in bad) == min(len(bad), 10), message
    assert not [c.name for c in good[:8] if c.name in message], message
    with pytest.raises(ImageLoadError):
        load_images(tmp_path / "a")
    tally(inputs=len(good[:8]) + len(bad), faults=len(bad))


def test_unusual_in_memory_inputs():
    """Arrays and tensors of odd shapes and dtypes: RGB out, or a course error that says what was expected."""
    ok = [
        np.zeros((4, 5), np.uint8),
        np.zeros((4, 5, 1), np.uint8),
        np.ones((4, 5, 4), np.float32),
        np.zeros((3, 4, 5), np.uint8),
        np.full((4, 5, 3), 65535, np.uint16),
        np.zeros((4, 5), bool),
    ]
    for arr in ok:
        img, exc, _ = _load_timed(arr)
        assert exc is None and img.mode == "RGB" and img.size == (5, 4), (arr.shape, arr.dtype, exc)
    bad = [
        (np.zeros((2, 3, 4, 5), np.uint8), "expected an array of shape"),
        (np.zeros((0, 5, 3), np.uint8), "empty"),
        (np.full((4, 5, 3), np.nan, np.float32), "NaN"),
        (np.full((4, 5, 3), 2.0), r"\[0, 1\]"),
        (np.full((4, 5, 3), -3, np.int64), "0..255"),
        (np.zeros((5, 6, 2), np.uint8), "expected an array of shape"),
        ("", "no such file|folder"),
        (12345, "cannot load an image from a int"),
        (b"", "zero bytes"),
        (bytearray(b"GIF89a"), "GIF file but is damaged"),
    ]
    for value, problem in bad:
        _, exc, _ = _load_timed(value)
        err = _assert_clean_course_error(exc, repr(value)[:40])
        assert re.search(problem, str(err)), (problem, str(err))
    tally(inputs=len(ok) + len(bad), faults=len(bad))


# --- bounded fuzzing -----------------------------------------------------------------------------------------------
def _mutate(data: bytes, rng: random.Random) -> bytes:
    out = bytearray(data)
    for _ in range(rng.randint(1, 4)):
        op = rng.random()
        pos = rng.randrange(len(out)) if out else 0
        if op < 0.4 and out:  # overwrite bytes, header bytes most often
            pos = rng.randrange(min(len(out), 64)) if rng.random() < 0.5 else pos
            out[pos : pos + rng.randint(1, 4)] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 4)))
        elif op < 0.6:  # truncate
            del out[rng.randrange(len(out) + 1) :]
        elif op < 0.8:  # insert junk
            out[pos:pos] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 32)))
        else:  # duplicate a slice
            a = rng.randrange(len(out) + 1)
            out[pos:pos] = out[a : a + rng.randint(1, 64)]
    return bytes(out)


def _check_fuzzed(data: bytes) -> bool:
    """True when the input was refused (with the course's error), False when it loaded as an RGB image."""
    img, exc, seconds = _load_timed(data)
    assert seconds < PER_FILE_LIMIT, f"{seconds:.1f} s for {len(data)} bytes starting {data[:16]!r}"
    if exc is None:
        assert img.mode == "RGB" and min(img.size) >= 1
        return False
    _assert_clean_course_error(exc, f"fuzzed input {data[:16]!r}")
    return True


def test_fuzz_loader_seeded(tmp_path):
    """Deterministic mutation fuzzing of PNG, JPEG, GIF, BMP, TIFF and WebP files (always runs, ~2 s)."""
    rng = random.Random(20240607)
    seeds = corpus.seeds()
    refused = tried = 0
    deadline = time.perf_counter() + 8
    for _ in range(150):
        for data in seeds.values():
            refused += _check_fuzzed(_mutate(data, rng))
            tried += 1
        if time.perf_counter() > deadline:  # bounded on slow machines
            break
    path = tmp_path / "fuzzed.png"  # the file-path branch too
    for _ in range(30):
        path.write_bytes(_mutate(seeds["png"], rng))
        refused += _check_fuzzed(path.read_bytes())
        tried += 1
    tally(inputs=tried, faults=refused)
    assert tried >= 100 and 0 < refused < tried, (tried, refused)


def test_fuzz_loader_hypothesis():
    """Coverage-free property fuzzing with hypothesis: any bytes, or a valid file with edits, never crash the loader."""
    hypothesis = pytest.importorskip("hypothesis")
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    seeds = corpus.seeds()
    counter = {"tried": 0, "refused": 0}
    edits = st.lists(st.tuples(st.integers(0, 4096), st.binary(min_size=0, max_size=8)), max_size=4)

    @settings(
        max_examples=250, deadline=None, derandomize=True, database=None, suppress_health_check=[HealthCheck.too_slow]
    )
    @given(
        fmt=st.sampled_from(sorted(seeds)),
        edits=edits,
        cut=st.integers(0, 4096),
        raw=st.binary(max_size=64),
        use_raw=st.booleans(),
    )
    def run(fmt, edits, cut, raw, use_raw):
        data = bytearray(seeds[fmt])
        for pos, junk in edits:
            pos %= len(data)
            data[pos : pos + len(junk)] = junk
        data = bytes(data[: max(1, len(data) - cut)]) if cut % 3 == 0 else bytes(data)
        data = (raw or b"\x00") if use_raw else data
        counter["tried"] += 1
        counter["refused"] += _check_fuzzed(data)

    assert hypothesis.__version__
    run()
    tally(inputs=counter["tried"], faults=counter["refused"])
    assert counter["tried"] >= 200 and counter["refused"] > 0
