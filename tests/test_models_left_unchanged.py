"""Every public helper that takes a model leaves it as it found it (issue #23).

The helpers are found by introspection: every public function, class and method of every course_utils module
(except the exercises, solutions and the command line) with a parameter that takes a model (named ``model``,
``models``, ``net``, ``module`` or ``clf``, or annotated with ``nn.Module`` or ``Classifier``). Each one must be in
exactly one table:

* :data:`COVERED`: how to call it. The call gets a real model (MobileNetV3-small, random weights with
  non-trivial BatchNorm statistics) the way a learner leaves one: in train mode with one BatchNorm in eval
  mode, the stem frozen (``requires_grad=False``) and a forward hook registered; afterwards every submodule's
  ``training`` flag, every tensor's device, dtype, strides (memory format), ``requires_grad``, ``.grad`` and
  value, and every module's hooks must be as before.
* :data:`EXEMPT`: helpers whose job is to change the model (freeze, replace a head, train, load weights, …),
  each with its reason; its docstring must say so.
* :data:`KNOWN_OFFENDERS`: helpers that change the model although they should not, in modules outside this
  change; they are expected to fail (strictly: once fixed, move them to :data:`COVERED`).

A new public callable with a model parameter fails :func:`test_every_helper_that_takes_a_model_is_in_a_table`
until it is added to one of them.
"""

from __future__ import annotations

import contextlib
import importlib
import inspect
import io
import itertools
import pkgutil
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch
import torchvision
from PIL import Image
from torch import nn
from torchvision.transforms import v2

import course_utils
from course_utils.core.device import eval_mode
from course_utils.core.errors import EmbeddingError
from course_utils.models.registry import Classifier
from course_utils.models.surgery import randomise_batchnorm

#: Subpackages whose callables are not course helpers a learner hands a model to.
SKIP = {"exercises", "solutions", "cli", "__main__"}
#: Parameter names that take a model.
MODEL_PARAMETERS = {"model", "models", "net", "module", "clf"}


# --------------------------------------------------------------------------- discovery


def _without_callables_and_types(text: str) -> str:
    """``text`` with every ``Callable[...]`` and ``type[...]`` removed: a builder or a class is not a model."""
    out, i = [], 0
    opening = re.compile(r"\b(Callable|type|Type)\[")
    while i < len(text):
        found = opening.match(text, i)
        if found:
            depth, i = 1, found.end()
            while i < len(text) and depth:
                depth += {"[": 1, "]": -1}.get(text[i], 0)
                i += 1
            continue
        out.append(text[i])
        i += 1
    return "".join(out)


def _takes_a_model(fn: Callable) -> bool:
    try:
        parameters = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):
        return False
    for p in parameters:
        if p.name in ("self", "cls"):
            continue
        if p.name in MODEL_PARAMETERS:
            return True
        if p.annotation is not inspect.Parameter.empty:
            text = p.annotation if isinstance(p.annotation, str) else str(p.annotation)
            if re.search(r"\bModule\b|\bClassifier\b", _without_callables_and_types(text)):
                return True
    return False


def discover() -> dict[str, Callable]:
    """``{"models.predict.predict": predict, …}``: every public callable of course_utils that takes a model."""
    found = {}
    for info in pkgutil.walk_packages(course_utils.__path__, "course_utils."):
        short = info.name.removeprefix("course_utils.")
        if set(short.split(".")) & SKIP:
            continue
        module = importlib.import_module(info.name)
        for name, obj in vars(module).items():
            if name.startswith("_") or getattr(obj, "__module__", None) != module.__name__:
                continue
            if inspect.isfunction(obj) and _takes_a_model(obj):
                found[f"{short}.{name}"] = obj
            elif inspect.isclass(obj):
                if "__init__" in vars(obj) and _takes_a_model(obj.__init__):
                    found[f"{short}.{name}"] = obj
                for method_name, method in vars(obj).items():
                    fn = method.__func__ if isinstance(method, (staticmethod, classmethod)) else method
                    if not method_name.startswith("_") and inspect.isfunction(fn) and _takes_a_model(fn):
                        found[f"{short}.{name}.{method_name}"] = fn
    return found


# --------------------------------------------------------------------------- the model as a learner leaves it

CATEGORIES = [f"class {i}" for i in range(10)]
SIZE = 64
PREPROCESS = v2.Compose(
    [
        v2.ToImage(),
        v2.Resize((SIZE, SIZE), antialias=True),
        v2.ToDtype(torch.float32, scale=True),
        v2.Normalize([0.485, 0.456, 0.406], [0.229, 0.224, 0.225]),
    ]
)


def _mobilenet() -> nn.Module:
    torch.manual_seed(0)
    return randomise_batchnorm(torchvision.models.mobilenet_v3_small(weights=None, num_classes=len(CATEGORIES)))


def _tiny() -> nn.Module:
    """A small conv net for the slow paths (export): conv-BN-ReLU twice, pooling and a linear head."""
    torch.manual_seed(0)
    return randomise_batchnorm(
        nn.Sequential(
            nn.Conv2d(3, 8, 3, stride=2, padding=1, bias=False),
            nn.BatchNorm2d(8),
            nn.ReLU(),
            nn.Conv2d(8, 16, 3, stride=2, padding=1, bias=False),
            nn.BatchNorm2d(16),
            nn.ReLU(),
            nn.AdaptiveAvgPool2d(1),
            nn.Flatten(),
            nn.Linear(16, len(CATEGORIES)),
        )
    )


def _small_resnet() -> nn.Module:
    """Notebook 10's network (Fashion-MNIST: one channel, 28×28): stages of torchvision ``BasicBlock`` s."""
    from course_utils.lessons.scratch import SmallResNet

    torch.manual_seed(0)
    return randomise_batchnorm(SmallResNet("residual", width=4, depth=1, num_classes=len(CATEGORIES)))


MODELS = {"mobilenet": _mobilenet, "tiny": _tiny, "small_resnet": _small_resnet}


def as_a_learner_leaves_it(model: nn.Module, hooks: bool, all_eval: bool) -> nn.Module:
    """Train mode with one BatchNorm in eval mode, the first conv frozen, a forward hook (``hooks``);
    or, with ``all_eval``, everything in eval mode (for helpers that require it, e.g. export)."""
    norms = [m for m in model.modules() if isinstance(m, nn.BatchNorm2d)]
    if all_eval:
        model.eval()
    else:
        model.train()
        norms[1].eval()
    next(m for m in model.modules() if isinstance(m, nn.Conv2d)).requires_grad_(False)
    if hooks:
        model.fired = []
        norms[0].register_forward_hook(lambda m, i, o: model.fired.append(tuple(o.shape)))
    return model


def _random_image(seed: int, size: tuple[int, int] = (80, 72)) -> Image.Image:
    rng = np.random.default_rng(seed)
    return Image.fromarray(rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8))


def _png(img: Image.Image) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()


def _dataset(folder: Path):
    from course_utils.data.datasets import ImageFolderDataset

    for c, cls in enumerate(("a", "b")):
        (folder / cls).mkdir(parents=True)
        for i in range(2):
            _random_image(10 * c + i).save(folder / cls / f"{i}.png")
    return ImageFolderDataset(folder)


def make_env(kind: str, hooks: bool, all_eval: bool, tmp_path: Path) -> SimpleNamespace:
    """The model (and a Classifier around it) as a learner leaves it, with inputs that fit it."""
    model = MODELS[kind]()
    clf = Classifier("tiny", model, PREPROCESS, CATEGORIES, False, None, torch.device("cpu"))  # sets eval mode
    as_a_learner_leaves_it(model, hooks, all_eval)
    images = [_random_image(i) for i in range(3)]
    if kind == "small_resnet":
        x = torch.randn(8, 1, 28, 28)
        pixels = torch.randint(0, 256, (8, 1, 28, 28), dtype=torch.uint8)
    else:
        x = torch.stack([PREPROCESS(img) for img in images[:2]])
        pixels = None
    y = torch.arange(len(x)) % len(CATEGORIES)
    return SimpleNamespace(
        model=model, clf=clf, images=images, x=x, y=y, pixels=pixels, loader=[(x, y)], tmp=tmp_path, layer="features.3"
    )


# --------------------------------------------------------------------------- what "unchanged" means


def snapshot(model: nn.Module) -> dict:
    """Everything about ``model`` a helper could change: modules, flags, hooks, and every tensor's place and value."""
    modules = {
        name: (
            id(m),
            type(m).__name__,
            m.training,
            len(m._forward_hooks),
            len(m._forward_pre_hooks),
            len(m._backward_hooks),
            len(m._backward_pre_hooks),
        )
        for name, m in model.named_modules(remove_duplicate=False)
    }
    tensors = {}
    for name, t in itertools.chain(
        model.named_parameters(remove_duplicate=False), model.named_buffers(remove_duplicate=False)
    ):
        tensors[name] = {
            "object": id(t),
            "device": t.device,
            "dtype": t.dtype,
            "shape": tuple(t.shape),
            "strides (memory format)": t.stride(),
            "requires_grad": t.requires_grad,
            "grad": None if t.grad is None else t.grad.detach().clone(),
            "value": t.detach().clone(),
        }
    return {"modules": modules, "tensors": tensors}


MODULE_FIELDS = (
    "object",
    "type",
    "training",
    "forward hooks",
    "forward pre-hooks",
    "backward hooks",
    "backward pre-hooks",
)


def differences(before: dict, after: dict, examples: int = 3) -> list[str]:
    """What changed between two snapshots, one line per kind of change (empty when nothing did)."""
    found: dict[str, list[str]] = {}
    if before["modules"].keys() != after["modules"].keys():
        gone, new = (
            before["modules"].keys() - after["modules"].keys(),
            after["modules"].keys() - before["modules"].keys(),
        )
        found["modules"] = [f"removed {sorted(gone)[:3]}, added {sorted(new)[:3]}"]
    for name in sorted(before["modules"].keys() & after["modules"].keys()):
        for field, a, b in zip(MODULE_FIELDS, before["modules"][name], after["modules"][name]):
            if a != b:
                found.setdefault(f"module {field}", []).append(f"{name or '(the model)'} {a} → {b}")
    if before["tensors"].keys() != after["tensors"].keys():
        found["tensors"] = [f"{sorted(before['tensors'].keys() ^ after['tensors'].keys())[:3]}"]
    for name in sorted(before["tensors"].keys() & after["tensors"].keys()):
        a, b = before["tensors"][name], after["tensors"][name]
        for field in a:
            x, y = a[field], b[field]
            if isinstance(x, torch.Tensor) or isinstance(y, torch.Tensor):
                same = (
                    isinstance(x, torch.Tensor)
                    and isinstance(y, torch.Tensor)
                    and (x.device, x.dtype, x.shape) == (y.device, y.dtype, y.shape)
                    and torch.equal(x, y)
                )
                if not same:
                    found.setdefault(f"tensor {field}", []).append(name)
            elif x != y:
                found.setdefault(f"tensor {field}", []).append(f"{name} {x} → {y}")
    return [
        f"{kind}: {len(items)} changed, e.g. {'; '.join(items[:examples])}" for kind, items in sorted(found.items())
    ]


# --------------------------------------------------------------------------- the tables


@dataclass(frozen=True)
class Case:
    """One call of a helper: ``call(env)``, on the model ``model`` (a key of :data:`MODELS`) with or without the
    learner's forward hook, in the learner's mixed train/eval state or (``all_eval``) all in eval mode."""

    call: Callable[[SimpleNamespace], object]
    label: str = ""
    model: str = "mobilenet"
    hooks: bool = True
    all_eval: bool = False


def _inside(context_of: Callable[[SimpleNamespace], contextlib.AbstractContextManager], run: bool = True):
    """A call that enters the context, runs the model once (in eval mode, without gradients) and leaves it."""

    def call(env: SimpleNamespace) -> None:
        with context_of(env), eval_mode(env.model), torch.no_grad():
            if run:
                env.model(env.x)

    return call


def _train_pass_in_buffers_kept(env: SimpleNamespace) -> None:
    """A forward pass in train mode (BatchNorm's running statistics move) inside ``buffers_kept``: put back."""
    with _mod("core.device.buffers_kept")(env.model), torch.no_grad():
        env.model(env.x)


def _upload(env: SimpleNamespace) -> object:
    from course_utils.lessons.widgets import upload_classifier

    return upload_classifier(env.clf)


def _timing(**kwargs: object) -> dict:
    return {"input_size": SIZE, "min_run_time": 0.01, "max_run_time": 0.05, **kwargs}


def _mod(path: str):
    """The object at ``path`` inside course_utils (``"models.predict.predict"``), imported when called."""
    module, _, name = path.rpartition(".")
    try:
        return getattr(importlib.import_module(f"course_utils.{module}"), name)
    except ModuleNotFoundError:  # a method: Class.method
        module, _, cls = module.rpartition(".")
        return getattr(getattr(importlib.import_module(f"course_utils.{module}"), cls), name)


def _f(path: str) -> Callable:
    return lambda *args, **kwargs: _mod(path)(*args, **kwargs)


def _cache(method: str) -> Callable:
    from course_utils.inspect.embeddings import EmbeddingCache

    return getattr(EmbeddingCache(), method)


COVERED: dict[str, Case | tuple[Case, ...]] = {
    # core
    "core.device.eval_mode": Case(_inside(lambda env: _mod("core.device.eval_mode")(env.model))),
    "core.device.model_device": Case(lambda env: _f("core.device.model_device")(env.model)),
    "core.device.buffers_kept": Case(_train_pass_in_buffers_kept),
    # data
    "data.checkpoints.save_checkpoint": Case(
        lambda env: _f("data.checkpoints.save_checkpoint")(env.model, env.tmp / "c.pt", CATEGORIES, PREPROCESS)
    ),
    # models
    "models.predict.predict": (
        Case(lambda env: _f("models.predict.predict")(env.clf, env.images, k=3), "images, hooks"),
        Case(lambda env: _f("models.predict.predict")(env.clf, env.images, k=3), "images, folded", hooks=False),
        Case(lambda env: _f("models.predict.predict")(env.clf, env.x), "batch", hooks=False),
        Case(lambda env: _f("models.predict.predict")(env.clf, env.images[0]), "one image", hooks=False),
    ),
    "models.predict.predict_proba": (
        Case(lambda env: _f("models.predict.predict_proba")(env.clf, env.images), "images, hooks"),
        Case(lambda env: _f("models.predict.predict_proba")(env.clf, env.images), "images, folded", hooks=False),
        Case(lambda env: _f("models.predict.predict_proba")(env.clf, env.x, batch_size=1), "batch", hooks=False),
    ),
    "models.inference.inference_copy": (
        Case(lambda env: _f("models.inference.inference_copy")(env.model), "hooks"),
        Case(lambda env: _f("models.inference.inference_copy")(env.model), "folded", hooks=False),
    ),
    "models.inference.placed": Case(
        _inside(lambda env: _mod("models.inference.placed")(env.model, "cpu", torch.channels_last))
    ),
    "models.parts.module_and_preprocess": (
        Case(lambda env: _f("models.parts.module_and_preprocess")(env.clf), "classifier"),
        Case(lambda env: _f("models.parts.module_and_preprocess")(env.model, PREPROCESS), "module"),
    ),
    "models.surgery.count_batchnorms": Case(lambda env: _f("models.surgery.count_batchnorms")(env.model)),
    "models.surgery.folded_copy": Case(lambda env: _f("models.surgery.folded_copy")(env.model), hooks=False),
    "models.surgery.head_of": Case(lambda env: _f("models.surgery.head_of")(env.model)),
    "models.surgery.state_token": Case(lambda env: _f("models.surgery.state_token")(env.model)),
    # inspect
    "inspect.embeddings.extract_embeddings": (
        Case(lambda env: _f("inspect.embeddings.extract_embeddings")(env.clf, env.images, progress=False), "images"),
        Case(lambda env: _f("inspect.embeddings.extract_embeddings")(env.model, env.x, progress=False), "batch"),
        Case(
            lambda env: _f("inspect.embeddings.extract_embeddings")(env.clf, env.x, batch_size=1, device="cpu"),
            "classifier, batch",
        ),
    ),
    "inspect.embeddings.EmbeddingCache.backbone": Case(lambda env: _cache("backbone")(env.clf)),
    "inspect.embeddings.EmbeddingCache.dataset_key": Case(
        lambda env: _cache("dataset_key")(env.clf, _dataset(env.tmp / "ds"), PREPROCESS)
    ),
    "inspect.embeddings.EmbeddingCache.embed": (
        Case(lambda env: _cache("embed")(env.clf, env.images, progress=False), "classifier"),
        Case(lambda env: _cache("embed")(env.model, env.images, PREPROCESS, progress=False), "module"),
    ),
    "inspect.embeddings.EmbeddingCache.embed_dataset": Case(
        lambda env: _cache("embed_dataset")(env.clf, _dataset(env.tmp / "ds"), cache_dir=env.tmp / "e", progress=False)
    ),
    "inspect.feature_maps.feature_maps": (
        Case(lambda env: _f("inspect.feature_maps.feature_maps")(env.clf, env.images, [env.layer]), "images"),
        Case(lambda env: _f("inspect.feature_maps.feature_maps")(env.model, env.x, [env.layer]), "batch"),
    ),
    "inspect.gradcam.grad_cam": (
        Case(lambda env: _f("inspect.gradcam.grad_cam")(env.clf, env.images, env.layer), "images"),
        Case(lambda env: _f("inspect.gradcam.grad_cam")(env.model, env.x, env.layer, classes=1), "batch"),
    ),
    "inspect.hooks.capture": Case(_inside(lambda env: _mod("inspect.hooks.capture")(env.model, [env.layer]))),
    "inspect.hooks.get_layer": Case(lambda env: _f("inspect.hooks.get_layer")(env.model, env.layer)),
    "inspect.hooks.hook_count": Case(lambda env: _f("inspect.hooks.hook_count")(env.model)),
    # measure
    "measure.flops.count_params": Case(lambda env: _f("measure.flops.count_params")(env.model)),
    "measure.flops.measure_cost": Case(lambda env: _f("measure.flops.measure_cost")(env.model, env.x)),
    "measure.timing.compare_latency": (
        Case(lambda env: _f("measure.timing.compare_latency")({"a": env.model, "b": env.model}, **_timing())),
        Case(
            lambda env: _f("measure.timing.compare_latency")({"a": env.model}, env.x, **_timing(channels_last=False)),
            "contiguous",
        ),
    ),
    "measure.report.profile_models": Case(lambda env: _f("measure.report.profile_models")({"a": env.model}, SIZE, 2)),
    # train
    "train.finetune.count_trainable": Case(lambda env: _f("train.finetune.count_trainable")(env.model)),
    "train.finetune.decay_groups": Case(lambda env: _f("train.finetune.decay_groups")(env.model, 1e-4, lr=1e-3)),
    "train.metrics.predict_loader": Case(lambda env: _f("train.metrics.predict_loader")(env.model, env.loader)),
    # deploy (on the small conv net in eval mode: an export records the model as it is, and refuses train mode)
    "deploy.export.export_program": Case(
        lambda env: _f("deploy.export.export_program")(env.model, env.x[:1]), model="tiny", all_eval=True
    ),
    "deploy.export.export_onnx": Case(
        lambda env: _f("deploy.export.export_onnx")(env.model, env.x[:1], env.tmp / "m.onnx"),
        model="tiny",
        all_eval=True,
    ),
    "deploy.export.export_pte": Case(
        lambda env: _f("deploy.export.export_pte")(env.model, env.x[:1], env.tmp / "m.pte"),
        model="tiny",
        all_eval=True,
    ),
    "deploy.export.state_dict_size_mb": Case(lambda env: _f("deploy.export.state_dict_size_mb")(env.model)),
    # lessons
    "lessons.finetune_fmnist.BatchStatsRecorder": Case(
        _inside(lambda env: _mod("lessons.finetune_fmnist.BatchStatsRecorder")(env.model))
    ),
    "lessons.finetune_fmnist.bn_layers": Case(lambda env: _f("lessons.finetune_fmnist.bn_layers")(env.model)),
    "lessons.finetune_fmnist.bn_statistics": Case(lambda env: _f("lessons.finetune_fmnist.bn_statistics")(env.model)),
    "lessons.pitfalls.min_input_size": Case(
        lambda env: _f("lessons.pitfalls.min_input_size")(env.model, sizes=range(16, 80, 16))
    ),
    "lessons.plain_vs_residual.block_changes": Case(
        lambda env: _f("lessons.plain_vs_residual.block_changes")(env.model, env.x), model="small_resnet"
    ),
    "lessons.plain_vs_residual.gradient_norms": Case(
        lambda env: _f("lessons.plain_vs_residual.gradient_norms")(env.model, env.x, env.y), model="small_resnet"
    ),
    "lessons.shapes.shape_table": (
        Case(lambda env: _f("lessons.shapes.shape_table")(env.model, (1, 3, SIZE, SIZE)), "meta"),
        Case(lambda env: _f("lessons.shapes.shape_table")(env.model, (1, 3, SIZE, SIZE), device="cpu"), "cpu"),
    ),
    "lessons.small_resnet.PreActivationBlock": Case(
        lambda env: _f("lessons.small_resnet.PreActivationBlock")(3, 3, 1, env.model), model="tiny"
    ),
    "lessons.small_resnet.stage_activation_std": Case(
        lambda env: _f("lessons.small_resnet.stage_activation_std")(env.model, env.x), model="small_resnet"
    ),
    "lessons.small_resnet.stage_gradient_norms": Case(
        lambda env: _f("lessons.small_resnet.stage_gradient_norms")(env.model, env.x, env.y), model="small_resnet"
    ),
    "models.surgery.backbone": Case(lambda env: _f("models.surgery.backbone")(env.model)),
    "lessons.scratch.evaluate": Case(
        lambda env: _f("lessons.scratch.evaluate")(env.model, env.pixels, env.y), model="small_resnet"
    ),
    "lessons.widgets.classify_upload": Case(
        lambda env: _f("lessons.widgets.classify_upload")(env.clf, "photo.png", _png(env.images[0]), k=2)
    ),
    "lessons.widgets.upload_classifier": Case(_upload),
}

#: Helpers whose job is to change the model, by module: ``module → {name → (why, a pattern its docstring must match)}``.
_CHANGE_THE_MODEL: dict[str, dict[str, tuple[str, str]]] = {
    "data.checkpoints": {"load_into": ("loads a checkpoint's weights into the model", r"[Ll]oad .*weights into")},
    "inspect.hooks": {
        "HookSet.forward": ("registers a forward hook (removed with the HookSet)", r"register_forward_hook"),
        "HookSet.forward_pre": ("registers a forward pre-hook", r"register_forward_pre_hook"),
        "HookSet.backward": ("registers a backward hook", r"register_full_backward_hook"),
        "remove_all_hooks": ("removes every hook", r"Remove every hook"),
    },
    "lessons.scratch": {"train": ("trains the model", r"Train ``model`` in place")},
    "models.registry": {
        "Classifier": ("a Classifier is for inference: puts its model in eval mode", r"puts its model in eval mode")
    },
    "models.inference": {"to_channels_last": ("converts the model to channels-last memory", r"in place")},
    "models.surgery": {
        "copy_weights": ("copies weights into ``dst``", r"[Cc]opy every parameter .* into ``dst``"),
        "randomise_batchnorm": ("sets BatchNorm parameters and statistics", r"in place"),
        "reset_classifier": ("puts a new head where the old one was", r"where the old head was"),
    },
    "train.finetune": {
        "fit": ("trains the model", r"Train ``model``"),
        "freeze_all_but": ("sets requires_grad", r"Freeze every parameter"),
        "freeze_bn_stats": ("puts BatchNorm layers in eval mode", r"into eval mode"),
        "param_groups": ("makes every parameter trainable", r"all are made trainable"),
        "run_epoch": ("trains when given an optimizer", r"trains when ``optimizer`` is given"),
    },
}
#: The same as ``"module.name" → (why, pattern)``.
EXEMPT: dict[str, tuple[str, str]] = {
    f"{module}.{name}": entry for module, entries in _CHANGE_THE_MODEL.items() for name, entry in entries.items()
}

#: Helpers that change the model although they should not, in modules outside this change:
#: ``name → (what they change, a call that shows it)``. Expected to fail, strictly: fixed ones move to COVERED.
KNOWN_OFFENDERS: dict[str, tuple[str, Case]] = {}


def _cases(table: dict[str, Case | tuple[Case, ...]]) -> list[tuple[str, Case]]:
    return [(name, case) for name, entry in table.items() for case in (entry if isinstance(entry, tuple) else (entry,))]


def _id(name: str, case: Case) -> str:
    return f"{name}[{case.label}]" if case.label else name


PARAMS = [pytest.param(name, case, id=_id(name, case)) for name, case in _cases(COVERED)] + [
    pytest.param(name, case, id=_id(name, case), marks=pytest.mark.xfail(strict=True, reason=why))
    for name, (why, case) in KNOWN_OFFENDERS.items()
]


# --------------------------------------------------------------------------- the tests


def test_every_helper_that_takes_a_model_is_in_a_table():
    found = set(discover())
    tables = {"COVERED": set(COVERED), "EXEMPT": set(EXEMPT), "KNOWN_OFFENDERS": set(KNOWN_OFFENDERS)}
    for (a, x), (b, y) in itertools.combinations(tables.items(), 2):
        assert not x & y, f"in both {a} and {b}: {sorted(x & y)}"
    listed = set().union(*tables.values())
    new, gone = sorted(found - listed), sorted(listed - found)
    assert not new, (
        f"public callables that take a model but are in no table of {__name__}: {new}. Add each to COVERED "
        "(how to call it: the test checks that it leaves the model as it found it) or, if changing the model is "
        "its job, to EXEMPT with the reason (its docstring must say so)"
    )
    assert not gone, f"table entries that name no public callable taking a model (renamed or removed?): {gone}"
    assert len(found) >= 50, sorted(found)


@pytest.mark.parametrize("name, case", PARAMS)
def test_helper_leaves_the_model_as_it_found_it(name, case, tmp_path):
    env = make_env(case.model, case.hooks, case.all_eval, tmp_path)
    before = snapshot(env.model)
    case.call(env)
    changed = differences(before, snapshot(env.model))
    assert not changed, f"{name} changed the model it was given:\n  " + "\n  ".join(changed)


@pytest.mark.parametrize("name", sorted(EXEMPT))
def test_exempt_helpers_say_that_they_change_the_model(name):
    reason, pattern = EXEMPT[name]
    doc = inspect.getdoc(_mod(name)) or ""
    assert re.search(pattern, doc, re.S), f"{name} {reason}, but its docstring does not say so ({pattern!r}): {doc!r}"


def test_the_check_sees_every_kind_of_change():
    """Each change a helper could make is caught (a check that cannot fail is no check)."""
    changes = {
        "eval()": lambda m: m.eval(),
        "one flag": lambda m: next(x for x in m.modules() if not x.training).train(),
        "channels-last": lambda m: m.to(memory_format=torch.channels_last),
        "dtype": lambda m: m.double(),
        "device": lambda m: m.to("meta"),
        "requires_grad": lambda m: m.requires_grad_(True),
        "a hook": lambda m: m.classifier.register_forward_pre_hook(lambda *a: None),
        "a hook removed": lambda m: m.features[0][1]._forward_hooks.clear(),
        "a value": lambda m: m.classifier[0].bias.data.add_(1e-3),
        "running statistics": lambda m: m(torch.randn(2, 3, SIZE, SIZE)),
        "a gradient": lambda m: m(torch.randn(2, 3, SIZE, SIZE)).sum().backward(),
        "a new head": lambda m: m.classifier.__setitem__(3, nn.Linear(1024, 10)),
    }
    for label, change in changes.items():
        model = as_a_learner_leaves_it(_mobilenet(), hooks=True, all_eval=False)
        before = snapshot(model)
        assert not differences(before, snapshot(model)), label
        change(model)
        assert differences(before, snapshot(model)), f"the check missed: {label}"


def test_discovery_finds_models_by_name_and_annotation():
    def by_name(model, x): ...

    def by_annotation(backbone_net: nn.Module | None = None): ...

    def a_classifier(wrapped: Classifier): ...

    def a_builder(build: Callable[[int], nn.Module], kinds: tuple[type[nn.Module], ...] = ()): ...

    assert _takes_a_model(by_name) and _takes_a_model(by_annotation) and _takes_a_model(a_classifier)
    assert not _takes_a_model(a_builder)
    assert (
        _without_callables_and_types("Callable[[int], nn.Module] | Mapping[str, nn.Module]")
        == " | Mapping[str, nn.Module]"
    )


# --------------------------------------------------------------------------- devices (no GPU here: "meta" stands in)


def test_a_device_argument_runs_there_and_leaves_the_model_where_it_was(tmp_path):
    from course_utils.inspect import extract_embeddings
    from course_utils.measure import compare_latency, profile_models

    env = make_env("mobilenet", hooks=True, all_eval=False, tmp_path=tmp_path)
    before = snapshot(env.model)
    timings = compare_latency({"a": env.model}, device="meta", **_timing())
    assert timings["a"].device == "meta"
    assert profile_models({"a": env.model}, SIZE, device="meta", min_run_time=0.01, max_run_time=0.05)[0]["GFLOPs"] > 0
    with pytest.raises(EmbeddingError):  # it ran on "meta", whose results cannot be copied back: a course error
        extract_embeddings(env.model, env.x, device="meta", progress=False)
    assert not differences(before, snapshot(env.model))
