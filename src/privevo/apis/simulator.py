"""A procedural garment simulator as PE's API (after Sim-PE, Lin et al. 2025): no foundation model at all.

RANDOM_API draws class c's garments from the prior of ``apis.garments`` (every normalized parameter
uniform on [0, 1]); VARIATION_API perturbs the *parameters*, not the pixels: each normalized parameter
moves by a Gaussian step of standard deviation ``degree * perturbation_scale``, reflected back into [0, 1]
(so the prior's ranges always hold and the uniform prior is left unchanged by a variation), and the
fabric-noise seed is redrawn with probability ``degree``. Degree 1 is a fresh draw of the same class,
degree 0 returns the same garment.

The simulator's ranges come from the public class names and general knowledge of garments only, never
from private images: the private votes do the fitting.

Parameters ride along with the images as a row-aligned ``api_state`` array (see ``apis.base``): columns
0..NUM_PARAMS-1 are the normalized parameters, then the fabric-noise seed and the class index.
"""

from __future__ import annotations

import numpy as np
from tqdm.auto import tqdm

from privevo.apis import garments
from privevo.apis.base import check_degree
from privevo.io.images import check_images

SEED_COLUMN = garments.NUM_PARAMS
CLASS_COLUMN = garments.NUM_PARAMS + 1
STATE_WIDTH = garments.NUM_PARAMS + 2
MAX_TEXTURE_SEED = 2**31
DEFAULT_PERTURBATION_SCALE = 0.25
_BATCH = 512  # images rendered per progress-bar update


def reflect_unit(values: np.ndarray) -> np.ndarray:
    """Fold values back into [0, 1] by reflection at 0 and 1 (a random walk's uniform law stays uniform)."""
    folded = np.mod(values, 2.0)
    return np.where(folded > 1.0, 2.0 - folded, folded)


class GarmentSimulatorAPI:
    """RANDOM_API / VARIATION_API of a class-conditional procedural garment renderer (uint8 28 x 28 x 1)."""

    carries_state = True

    def __init__(self, *, perturbation_scale: float = DEFAULT_PERTURBATION_SCALE,
                 garment_of_class: list[int] | None = None):
        """``garment_of_class``: the garment (index into garments.GARMENT_CLASSES) PE class c draws; None: c."""
        if not perturbation_scale > 0:
            raise ValueError(f"perturbation_scale must be positive, got {perturbation_scale}")
        self.perturbation_scale = float(perturbation_scale)
        self.garment_of_class = list(range(len(garments.GARMENT_CLASSES)) if garment_of_class is None
                                     else garment_of_class)

    @classmethod
    def from_params(cls, params: dict, *, model_dir=None, image_shape=None, class_names=None
                    ) -> "GarmentSimulatorAPI":
        """The simulator of a run's params (``simulator`` section, optional); ``model_dir`` is not used.
        ``class_names``: the private set's classes, each of which must be a garment it draws (None: all ten)."""
        from privevo.core.errors import ParamsError

        if image_shape is not None and tuple(image_shape) != garments.IMAGE_SHAPE:
            raise ParamsError(f"params key pe.api: the simulator draws {garments.IMAGE_SHAPE} garments; the private "
                              f"set's images are {tuple(image_shape)}")
        settings = params.get("simulator") or {}
        return cls(perturbation_scale=settings.get("perturbation_scale", DEFAULT_PERTURBATION_SCALE),
                   garment_of_class=None if class_names is None else garment_indices(class_names))

    # ------------------------------------------------------------------------------------------- state

    def prior_state(self, num_images: int, *, class_index, seed: int) -> np.ndarray:
        """Fresh parameters: ``class_index`` is one class or one per image."""
        rng = np.random.default_rng(seed)
        classes = np.broadcast_to(np.asarray(class_index, dtype=np.int64), (num_images,))
        if classes.size and not (0 <= classes.min() and classes.max() < len(garments.GARMENT_CLASSES)):
            raise ValueError(f"garment indices must lie in 0..{len(garments.GARMENT_CLASSES) - 1}")
        state = np.empty((num_images, STATE_WIDTH), dtype=np.float64)
        state[:, : garments.NUM_PARAMS] = rng.random((num_images, garments.NUM_PARAMS))
        state[:, SEED_COLUMN] = rng.integers(0, MAX_TEXTURE_SEED, num_images)
        state[:, CLASS_COLUMN] = classes
        return state

    def perturb_state(self, state: np.ndarray, *, degree: float, seed: int) -> np.ndarray:
        """The parameters moved by a variation of ``degree`` (1: a fresh draw of each row's class)."""
        state = check_state(state)
        if degree >= 1.0:
            return self.prior_state(len(state), class_index=state[:, CLASS_COLUMN].astype(np.int64), seed=seed)
        rng = np.random.default_rng(seed)
        out = state.copy()
        if degree == 0:
            return out
        step = rng.standard_normal((len(state), garments.NUM_PARAMS)) * (degree * self.perturbation_scale)
        out[:, : garments.NUM_PARAMS] = reflect_unit(state[:, : garments.NUM_PARAMS] + step)
        redraw = rng.random(len(state)) < degree
        out[redraw, SEED_COLUMN] = rng.integers(0, MAX_TEXTURE_SEED, int(redraw.sum()))
        return out

    def render(self, state: np.ndarray, *, desc: str = "") -> np.ndarray:
        state = check_state(state)
        out = []
        with tqdm(total=len(state), desc=desc or "garments", unit="img", leave=False) as bar:
            for begin in range(0, len(state), _BATCH):
                chunk = state[begin: begin + _BATCH]
                out.append(garments.render(chunk[:, CLASS_COLUMN].astype(np.int64), chunk[:, : garments.NUM_PARAMS],
                                           chunk[:, SEED_COLUMN].astype(np.int64)))
                bar.update(len(chunk))
        return np.concatenate(out) if out else np.zeros((0, garments.SIZE, garments.SIZE, 1), np.uint8)

    # ------------------------------------------------------------------------------------------- PE's calls

    def random_with_state(self, num_images: int, *, class_index: int, seed: int, desc: str = "random garments"
                          ) -> tuple[np.ndarray, np.ndarray]:
        """RANDOM_API for class ``class_index``: (images, their parameters)."""
        state = self.prior_state(num_images, class_index=self.garment_of_class[class_index], seed=seed)
        return self.render(state, desc=desc), state

    def variation_with_state(self, images: np.ndarray, state: np.ndarray, *, degree: float, seed: int,
                             desc: str = "garment variations") -> tuple[np.ndarray, np.ndarray]:
        """VARIATION_API: one variation of each garment, from its parameters; (images, their parameters)."""
        check_images(images, name="variation input")
        if state is None:
            raise ValueError("the garment simulator varies parameters, not pixels: give the api_state that came "
                             "with these images (the candidates/selected .npz carry it)")
        state = check_state(state)
        if len(state) != len(images):
            raise ValueError(f"{len(state)} parameter rows for {len(images)} images")
        check_degree(degree, 10**6, where="variation degree")
        if degree == 0:
            return images.copy(), state.copy()
        new_state = self.perturb_state(state, degree=degree, seed=seed)
        return self.render(new_state, desc=desc), new_state

    def random(self, num_images: int, *, seed: int, desc: str = "random garments") -> np.ndarray:
        """RANDOM_API without a class (PEAPI protocol): each image's class drawn uniformly."""
        classes = np.asarray(self.garment_of_class)[
            np.random.default_rng([seed, 1]).integers(0, len(self.garment_of_class), num_images)]
        return self.render(self.prior_state(num_images, class_index=classes, seed=seed), desc=desc)

    def variation(self, images: np.ndarray, *, degree: float, seed: int, desc: str = "garment variations",
                  state: np.ndarray | None = None) -> np.ndarray:
        """VARIATION_API (PEAPI protocol); needs the images' ``state``, since it perturbs parameters."""
        return self.variation_with_state(images, state, degree=degree, seed=seed, desc=desc)[0]


def garment_indices(class_names) -> list[int]:
    """The garment each private class draws (matched by name, case and spaces ignored); a class the simulator has
    no garment for is a ParamsError that names it."""
    from privevo.core.errors import ParamsError

    def key(name: str) -> str:
        return " ".join(str(name).lower().replace("_", " ").replace("-", " ").split())

    known = {key(name): index for index, name in enumerate(garments.GARMENT_CLASSES)}
    lacking = [name for name in class_names if key(name) not in known]
    if lacking:
        raise ParamsError(f"params key pe.api: the garment simulator has no garments for class(es) "
                          f"{', '.join(map(repr, lacking))} (it draws {', '.join(garments.GARMENT_CLASSES)}); use "
                          "pe.api diffusion (a DDPM or a local diffusers model) or text_to_image for this class set")
    return [known[key(name)] for name in class_names]


def check_state(state) -> np.ndarray:
    state = np.asarray(state, dtype=np.float64)
    if state.ndim != 2 or state.shape[1] != STATE_WIDTH:
        raise ValueError(f"garment simulator state must have shape (N, {STATE_WIDTH}), got {state.shape}")
    params = state[:, : garments.NUM_PARAMS]
    if params.size and not (np.isfinite(params).all() and params.min() >= 0.0 and params.max() <= 1.0):
        raise ValueError("garment simulator parameters must be finite and lie in [0, 1]")
    return state
