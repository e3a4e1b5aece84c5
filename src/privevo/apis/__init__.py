"""The foundation model's two calls, RANDOM_API and VARIATION_API, behind one registry."""

from privevo.core.registry import Registry

# A new API: a module with a class that has ``from_params(params, *, model_dir, image_shape)`` plus one line here.
APIS = Registry("PE API", {
    "diffusion": "privevo.apis.diffusion:DiffusionAPI",
    "simulator": "privevo.apis.simulator:GarmentSimulatorAPI",
    "retrieval": "privevo.apis.retrieval:PublicPoolRetrievalAPI",
    "text_to_image": "privevo.apis.text_to_image:TextToImageAPI",
})


# APIs that draw without a foundation model (no pretraining or model folder in their runs' DAG).
MODEL_FREE_APIS = frozenset({"simulator", "retrieval"})
# APIs that return images of the prepared public set (data/prepared/<key>/public.npz), which their runs' DAG reads.
PUBLIC_POOL_APIS = frozenset({"retrieval"})


def uses_foundation_model(api_name: str) -> bool:
    return api_name not in MODEL_FREE_APIS


# APIs that vary a per-image state (apis.base), which they cannot rebuild from another API's pixels.
STATEFUL_APIS = frozenset({"simulator", "retrieval", "text_to_image"})


def carries_state(api_name: str) -> bool:
    return api_name in STATEFUL_APIS


def uses_public_pool(api_name: str) -> bool:
    return api_name in PUBLIC_POOL_APIS


def make_api(params: dict, model_dir: str, *, image_shape: tuple[int, int, int], public_pool: str | None = None,
             name: str | None = None, class_names: list[str] | None = None):
    """The API ``name`` (default: the one ``pe.api`` names), built from params, returning images of ``image_shape``
    (H, W, C). ``public_pool``: the prepared public set, for an API that retrieves from it. ``class_names``: the
    private set's classes (public), for an API whose ``from_params`` takes them (class-specific draws, prompts)."""
    import inspect

    name = name or params["pe"]["api"]
    key = "pe.api" if name == params["pe"]["api"] else "pe.api_schedule"
    api_class = APIS.get(name, key=key)
    extra = {"public_pool": public_pool} if uses_public_pool(name) else {}
    if class_names is not None and "class_names" in inspect.signature(api_class.from_params).parameters:
        extra["class_names"] = list(class_names)
    return api_class.from_params(params, model_dir=model_dir, image_shape=image_shape, **extra)
