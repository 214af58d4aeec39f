"""What :func:`dglnb.methods.routing.dgl_loss` takes: per-modality features in a dict or a tuple, each a
tensor or a tuple/list of tensors; walking them, and the checks that turn bad input into a clear
error. Imports only torch.
"""

from __future__ import annotations

from typing import Any, Callable, Hashable, Iterable, Mapping, Sequence

import torch
from torch import Tensor, nn

#: Per-modality features: a dict name -> feature, or a tuple (names 0, 1, ...); a feature is a
#: tensor or a tuple/list of tensors (e.g. one map per scale).
Features = Mapping[Hashable, Any] | Sequence[Any]


def map_tensors(fn: Callable[[Tensor], Any], feature: Any) -> Any:
    """``fn`` applied to every tensor of ``feature`` (a tensor, or a tuple/list of them, nested)."""
    if isinstance(feature, (tuple, list)):
        return type(feature)(map_tensors(fn, part) for part in feature)
    return fn(feature)


def tensors(features: Features) -> list[Tensor]:
    """Every tensor of every feature."""
    found: list[Tensor] = []
    for _, feature in items(features):
        map_tensors(found.append, feature)
    return found


def detach(feature: Any) -> Any:
    """The feature cut from its encoder's graph."""
    return map_tensors(Tensor.detach, feature)


def items(features: Features) -> list[tuple[Hashable, Any]]:
    return list(features.items()) if isinstance(features, Mapping) else list(enumerate(features))


def replace(features: Features, values: Mapping[Hashable, Any]) -> Features:
    """A container like ``features`` (a dict, or a tuple/list in order) holding ``values``."""
    if isinstance(features, Mapping):
        return {n: values[n] for n in features}
    return type(features)(values[n] for n in range(len(features)))


def listed(names: Iterable[Hashable]) -> str:
    return ", ".join(map(repr, names))


def check_features(features: Features) -> list[Hashable]:
    """The modality names; each feature must carry its encoder's graph."""
    if not isinstance(features, (Mapping, tuple, list)):
        raise TypeError(
            f"features must be a dict name -> tensor or a tuple of tensors, "
            f"got {type(features).__name__}"
        )
    pairs = items(features)
    if len(pairs) < 2:
        raise ValueError(f"DGL needs two or more modalities, got {len(pairs)}")
    for name, feature in pairs:
        if not any(t.requires_grad for t in tensors([feature])):
            raise ValueError(
                f"features[{name!r}] does not require grad, so its encoder would receive no "
                "gradient: pass the encoder's output as it is (not detached, not computed under "
                "torch.no_grad)"
            )
    return [name for name, _ in pairs]


Groups = tuple[dict[Hashable, list[Tensor]], list[Tensor]]  # (encoder m's parameters, the fusion's)


def groups_of(
    names: list[Hashable],
    encoders: Mapping[Hashable, Iterable[Tensor]] | None,
    fusion: Iterable[Tensor] | None,
) -> Groups | None:
    """The named parameter groups of the routed form, checked; None for the one-pass form."""
    if encoders is None and fusion is None:
        return None
    if encoders is None or fusion is None:
        raise ValueError("the routed form needs both encoder_parameters and fusion_parameters")
    groups = {m: list(params) for m, params in encoders.items()}
    if set(groups) != set(names):
        raise ValueError(
            f"encoder_parameters names {listed(groups)}, the features "
            f"{listed(names)}: name one group per modality"
        )
    fusion = list(fusion)
    empty = [m for m, params in groups.items() if not params] + (["fusion"] if not fusion else [])
    if empty:
        raise ValueError(f"empty parameter groups: {listed(empty)}")
    ids = [id(p) for params in [*groups.values(), fusion] for p in params]
    if len(ids) != len(set(ids)):
        raise ValueError("the parameter groups overlap: each parameter belongs to one group")
    return groups, fusion


@torch.compiler.disable
def reached(roots: Iterable[Tensor]) -> set[int]:
    """The ids of the leaf tensors (parameters) whose gradients the graphs of ``roots`` would write."""
    roots = list(roots)
    found = {id(t) for t in roots if t.grad_fn is None and t.requires_grad}
    stack, seen = [t.grad_fn for t in roots if t.grad_fn is not None], set()
    while stack:
        node = stack.pop()
        if node in seen:
            continue
        seen.add(node)
        if hasattr(node, "variable"):
            found.add(id(node.variable))
        stack.extend(child for child, _ in node.next_functions if child is not None)
    return found


def check_separable(features: Features, names: list[Hashable], fusion: Any) -> None:
    """The fusion's parameters must not be reachable from the features (else L^d on detached features
    would not be the whole story): a clear error that names the routed form instead."""
    if not callable(fusion):
        raise TypeError(f"fusion must be an nn.Module or a function, got {type(fusion).__name__}")
    declared = getattr(fusion, "modalities", None)
    if isinstance(declared, (tuple, list)) and set(declared) != set(names):
        raise ValueError(
            f"the fusion fuses {listed(declared)}, the features are {listed(names)}: "
            "give features and fusion the same names"
        )
    if not isinstance(fusion, nn.Module):
        return
    if {id(p) for p in fusion.parameters()} & reached(tensors(features)):
        raise ValueError(
            "the features already depend on parameters of the fusion (it is the whole model, "
            "shares a layer with an encoder, or runs encoder layers, as MMTM does), so the losses "
            "cannot be separated by detaching. Pass only the fusion module, or name the parameter "
            "groups: dgl_loss(..., encoder_parameters={name: params}, fusion_parameters=params)"
        )


def check_reached(
    features: Features, fusion: Any, unimodal: Mapping[Hashable, Tensor], truncate_unimodal: bool
) -> None:
    """Under UT an L^m that needs no gradient never read its modality (the fusion ignored it); a
    fusion given as a function must reach no parameter beyond the features' (none can be frozen)."""
    ignored = [m for m, loss in unimodal.items() if truncate_unimodal and not loss.requires_grad]
    if ignored:
        raise ValueError(
            f"the fusion's output does not depend on features {listed(ignored)}, so "
            "those encoders would receive no gradient: the fusion must read every "
            "modality"
        )
    if isinstance(fusion, nn.Module):
        return
    if reached(unimodal.values()) - reached(tensors(features)):
        raise TypeError(
            "the fusion is a function whose outputs depend on trainable parameters of "
            "its own, which dgl_loss cannot freeze for the unimodal losses: pass the "
            "nn.Module that holds them (e.g. an nn.Module whose forward calls your "
            "function)"
        )
