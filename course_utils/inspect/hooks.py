"""Forward and backward hooks that never outlive the cell that made them.

A hook registered with ``module.register_forward_hook`` stays on the module until its
handle's ``.remove()`` is called. In a notebook, re-running the cell that registers it
stacks one more hook each time. :class:`HookSet` (a context manager) removes every hook it
registered when the ``with`` block ends, even when the block raises; :func:`capture` uses it
to record layer outputs; :func:`hook_count` and :func:`remove_all_hooks` find and clear
hooks left behind.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager

import torch
from torch import nn
from torch.utils.hooks import RemovableHandle

from ..core.errors import LayerNotFoundError

__all__ = ["HookSet", "capture", "get_layer", "hook_count", "remove_all_hooks"]

#: The per-module dictionaries in which torch keeps hooks.
_HOOK_DICTS = ("_forward_hooks", "_forward_pre_hooks", "_backward_hooks", "_backward_pre_hooks")
#: Bookkeeping dictionaries keyed by the same hook ids (cleared together with the hooks).
_HOOK_EXTRAS = ("_forward_hooks_with_kwargs", "_forward_hooks_always_called", "_forward_pre_hooks_with_kwargs")


def get_layer(model: nn.Module, layer: str | nn.Module) -> nn.Module:
    """The submodule ``layer`` of ``model`` (a dotted name such as ``"layer4.2.bn3"``, or the module itself)."""
    if isinstance(layer, nn.Module):
        return layer
    try:
        return model.get_submodule(layer)
    except AttributeError:
        top = [name for name, _ in model.named_children()]
        raise LayerNotFoundError(
            f"{type(model).__name__} has no layer {layer!r}; use a dotted name from model.named_modules(), "
            f"e.g. one of its top-level children: {', '.join(top)}"
        ) from None


def hook_count(model: nn.Module) -> int:
    """How many hooks (forward, forward-pre, backward, backward-pre) sit on ``model`` and its submodules."""
    return sum(len(getattr(m, d, {})) for m in model.modules() for d in _HOOK_DICTS)


def remove_all_hooks(model: nn.Module) -> int:
    """Remove every hook from ``model`` and its submodules; returns how many were removed.

    The blunt fix for hooks piled up by re-running a cell whose handles were lost.
    """
    removed = 0
    for m in model.modules():
        for d in _HOOK_DICTS + _HOOK_EXTRAS:
            hooks = getattr(m, d, None)
            if hooks:
                removed += len(hooks) if d in _HOOK_DICTS else 0
                hooks.clear()
    return removed


class HookSet:
    """Hooks registered through it are removed together, at the latest when its ``with`` block ends.

    >>> with HookSet() as hooks:
    ...     hooks.forward(model.layer4, lambda mod, inp, out: print(out.shape))
    ...     model(x)            # the hook fires
    >>> model(x)                # it is gone, even if the block had raised
    """

    def __init__(self) -> None:
        self.handles: list[RemovableHandle] = []

    def add(self, handle: RemovableHandle) -> RemovableHandle:
        """Take charge of a handle returned by any ``register_*_hook`` call."""
        self.handles.append(handle)
        return handle

    def forward(self, module: nn.Module, hook: Callable) -> RemovableHandle:
        """``module.register_forward_hook(hook)``: ``hook(module, inputs, output)`` runs after forward."""
        return self.add(module.register_forward_hook(hook))

    def forward_pre(self, module: nn.Module, hook: Callable) -> RemovableHandle:
        """``module.register_forward_pre_hook(hook)``: ``hook(module, inputs)`` runs before forward."""
        return self.add(module.register_forward_pre_hook(hook))

    def backward(self, module: nn.Module, hook: Callable) -> RemovableHandle:
        """``module.register_full_backward_hook(hook)``: ``hook(module, grad_input, grad_output)``."""
        return self.add(module.register_full_backward_hook(hook))

    def tensor(self, tensor: torch.Tensor, hook: Callable[[torch.Tensor], torch.Tensor | None]) -> RemovableHandle:
        """``tensor.register_hook(hook)``: ``hook(grad)`` runs when the gradient of ``tensor`` is computed."""
        return self.add(tensor.register_hook(hook))

    def remove(self) -> None:
        """Remove every hook registered so far (safe to call twice)."""
        while self.handles:
            self.handles.pop().remove()

    def __len__(self) -> int:
        return len(self.handles)

    def __enter__(self) -> HookSet:
        return self

    def __exit__(self, *exc: object) -> None:
        self.remove()


def _names(layers: str | nn.Module | Iterable[str]) -> list[str]:
    if isinstance(layers, str):
        return [layers]
    if isinstance(layers, nn.Module):
        raise LayerNotFoundError("pass layer names (strings) to capture(), e.g. capture(model, ['layer3', 'layer4'])")
    names = list(layers)
    if not names:
        raise LayerNotFoundError("capture() needs at least one layer name, e.g. 'layer4'")
    return names


@contextmanager
def capture(model: nn.Module, layers: str | Iterable[str], clone: bool = True) -> Iterator[dict[str, torch.Tensor]]:
    """Record the outputs of ``layers`` while the ``with`` block runs; the hooks go away afterwards.

    Yields a dict ``{layer name: output}`` filled by each forward pass (the last call wins when
    a module runs several times). Outputs are detached and, with ``clone=True`` (the default),
    copied, so a later in-place operation (``ReLU(inplace=True)``, ``out += identity``) cannot
    change what was recorded.

    >>> with capture(model, ["layer3", "layer4"]) as feats:
    ...     model(x)
    >>> feats["layer4"].shape
    """
    names = _names(layers)
    modules = {name: get_layer(model, name) for name in names}
    outputs: dict[str, torch.Tensor] = {}

    def make_hook(name: str) -> Callable:
        def hook(module: nn.Module, inputs: tuple, output: torch.Tensor) -> None:
            out = output.detach()
            outputs[name] = out.clone() if clone else out

        return hook

    with HookSet() as hooks:
        for name, module in modules.items():
            hooks.forward(module, make_hook(name))
        yield outputs
