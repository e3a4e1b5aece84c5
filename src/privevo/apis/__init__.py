"""The foundation model's two calls, RANDOM_API and VARIATION_API, behind one registry."""

from privevo.core.registry import Registry

# A new API: a module with a class that has ``from_params(params, *, model_dir, image_shape)`` plus one line here,
# declaring its traits:
#   foundation_model  it draws from a foundation model (a pretrained or local model folder is in its runs' DAG)
#   stateful          it varies a per-image state (apis.base) that it cannot rebuild from another API's pixels
#   public_pool       it returns images of the prepared public set, which its runs' DAG reads
#   params_section    its own params section (same name), which changes what it draws and so keys its runs
#   needs_gpu         it is impractical on a CPU (pe-init measures one step there and warns with the projected time)
#   reads             the params keys it reads beyond pe.* and model.*
APIS = Registry("PE API", traits=("foundation_model", "stateful", "public_pool", "params_section", "needs_gpu", "reads"),
                entries={
    "diffusion": ("privevo.apis.diffusion:DiffusionAPI",
                  dict(foundation_model=True, stateful=False, public_pool=False, params_section=None, needs_gpu=False,
                       reads=("model.local_path", "model.class_labels", "model.resize_method", "pe.sampler",
                              "pe.num_inference_steps"))),
    "simulator": ("privevo.apis.simulator:GarmentSimulatorAPI",
                  dict(foundation_model=False, stateful=True, public_pool=False, params_section="simulator",
                       needs_gpu=False, reads=("simulator",))),
    "retrieval": ("privevo.apis.retrieval:PublicPoolRetrievalAPI",
                  dict(foundation_model=False, stateful=True, public_pool=True, params_section="retrieval",
                       needs_gpu=False, reads=("retrieval",))),
    "text_to_image": ("privevo.apis.text_to_image:TextToImageAPI",
                      dict(foundation_model=True, stateful=True, public_pool=False, params_section="text_to_image",
                           needs_gpu=True, reads=("text_to_image", "model.local_path", "model.resize_method",
                                                  "pe.prompts", "pe.prompt", "pe.num_inference_steps"))),
})


def uses_foundation_model(api_name: str) -> bool:
    return APIS.trait(api_name, "foundation_model")


def carries_state(api_name: str) -> bool:
    return APIS.trait(api_name, "stateful")


def uses_public_pool(api_name: str) -> bool:
    return APIS.trait(api_name, "public_pool")


def params_section(api_name: str) -> str | None:
    """The params section of the API's own settings (None: it has none)."""
    return APIS.trait(api_name, "params_section")


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
