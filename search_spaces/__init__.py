"""Search spaces: each is `build(trial, *, input_shape, n_outputs) -> keras.Model` (uncompiled), registered
here with the kind of search it serves (`task`: nas.tasks.TASKS holds one object per kind)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import partial

from search_spaces import mlp, spectral


@dataclass(frozen=True)
class Space:
    name: str
    version: int
    build: Callable
    describe: Callable[[dict], str]
    summary: str
    task: str  # "classification" (labelled series) or "distillation" (students of a teacher)
    example_shapes: tuple = ()  # input shapes tests and benchmarks sample architectures on
    versions: tuple = ()  # the versions `build` can make besides `version` (a study of one still resumes)
    # optional, for a space that can lay a net out as FCN (nas.baselines) does:
    like_fcn: Callable[[dict], bool] | None = None  # whether an architecture is (its front members get FCN's
    # schedule as a second polish: nas.objective.schedule_polish)
    fcn_params: Callable[..., dict | None] | None = None  # FCN's widths, strides (and pools) as this version's
    # parameters (seeded into a study with --baselines: nas.tasks.fcn_in_space, pooled_fcn_in_space)


SPACES: dict[str, Space] = {
    "spectral": Space("spectral", spectral.VERSION, spectral.build, spectral.describe,
                      "1-D conv / depthwise-separable CNNs (Conv2D 1xk) for light curves and signals",
                      "classification", ((1024, 1), (150, 1), (427, 1), (256, 3), (96, 2)), spectral.VERSIONS,
                      like_fcn=spectral.like_fcn, fcn_params=spectral.fcn_params),
    "mlp": Space("mlp", mlp.VERSION, mlp.build, mlp.describe,
                 "MLP students distilled from a Keras teacher (needs --teacher)", "distillation",
                 ((14,), (6,), (40,), (3,))),
}


def get_space(name: str, version: int | None = None) -> Space:
    """The space `name` as this nas builds it now, or as it was at `version` (a study's space_version)."""
    if name not in SPACES:
        raise ValueError(f"unknown space {name!r}; known: {', '.join(SPACES)}")
    space = SPACES[name]
    if version is None or version == space.version:
        return space
    if version not in space.versions:
        raise ValueError(f"space {name!r} builds v{', v'.join(map(str, buildable(space)))}, not v{version}")
    # fcn_params gives the current version's choices, so an older version has none
    return replace(space, version=version, build=partial(space.build, version=version), fcn_params=None)


def buildable(space: Space) -> tuple[int, ...]:
    """Every version of `space` this nas can build (a study of any of them resumes)."""
    return tuple(sorted({space.version, *space.versions}))
