"""The foundation model's two calls, RANDOM_API and VARIATION_API, behind one registry."""

from privevo.core.registry import Registry

# A new API: a module with a class that has ``from_params(params, *, model_dir, image_shape)`` plus one line here.
APIS = Registry("PE API", {
    "diffusion": "privevo.apis.diffusion:DiffusionAPI",
    "simulator": "privevo.apis.simulator:GarmentSimulatorAPI",
})


# APIs that draw without a foundation model (no pretraining or model folder in their runs' DAG).
MODEL_FREE_APIS = frozenset({"simulator"})


def uses_foundation_model(api_name: str) -> bool:
    return api_name not in MODEL_FREE_APIS


def make_api(params: dict, model_dir: str, *, image_shape: tuple[int, int, int]):
    """The API that ``pe.api`` names, built from params, returning images of ``image_shape`` (H, W, C)."""
    return APIS.get(params["pe"]["api"], key="pe.api").from_params(params, model_dir=model_dir, image_shape=image_shape)
