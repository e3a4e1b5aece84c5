"""The foundation model's two calls, RANDOM_API and VARIATION_API, behind one registry."""

from privevo.core.registry import Registry

# A new API: a module with a class that has ``from_params(params, *, model_dir, image_shape)`` plus one line here.
APIS = Registry("PE API", {
    "diffusion": "privevo.apis.diffusion:DiffusionAPI",
    "simulator": "privevo.apis.simulator:GarmentSimulatorAPI",
    "retrieval": "privevo.apis.retrieval:PublicPoolRetrievalAPI",
})


# APIs that draw without a foundation model (no pretraining or model folder in their runs' DAG).
MODEL_FREE_APIS = frozenset({"simulator", "retrieval"})
# APIs that return images of the prepared public set (data/prepared/<key>/public.npz), which their runs' DAG reads.
PUBLIC_POOL_APIS = frozenset({"retrieval"})


def uses_foundation_model(api_name: str) -> bool:
    return api_name not in MODEL_FREE_APIS


# APIs that vary a per-image state (apis.base), which they cannot rebuild from another API's pixels.
STATEFUL_APIS = frozenset({"simulator", "retrieval"})


def carries_state(api_name: str) -> bool:
    return api_name in STATEFUL_APIS


def uses_public_pool(api_name: str) -> bool:
    return api_name in PUBLIC_POOL_APIS


def make_api(params: dict, model_dir: str, *, image_shape: tuple[int, int, int], public_pool: str | None = None,
             name: str | None = None):
    """The API ``name`` (default: the one ``pe.api`` names), built from params, returning images of ``image_shape``
    (H, W, C). ``public_pool``: the prepared public set, for an API that retrieves from it."""
    name = name or params["pe"]["api"]
    pool = {"public_pool": public_pool} if uses_public_pool(name) else {}
    key = "pe.api" if name == params["pe"]["api"] else "pe.api_schedule"
    return APIS.get(name, key=key).from_params(params, model_dir=model_dir, image_shape=image_shape, **pool)
