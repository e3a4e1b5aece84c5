"""A tiny random Stable Diffusion pipeline on disk, for tests of the text_to_image API and workflow smoke runs.

Every part is built from a small config with seeded random weights (nothing is downloaded): a 2-block
UNet2DConditionModel on 8x8 latents, a 2-block AutoencoderKL (latent factor 2, so 16x16 images), a 2-layer
CLIPTextModel and a CLIPTokenizer over a character vocabulary with no merges, so any lowercase prompt
tokenises. The images it makes are noise; what matters is that every diffusers code path PE takes runs, on CPU,
in well under a second.
"""

from __future__ import annotations

import json
import string
from pathlib import Path

# Side of the images the pipeline makes at its own resolution: UNet sample size x the VAE's latent factor.
TINY_SAMPLE_SIZE = 8
TINY_RESOLUTION = 16
TEXT_HIDDEN_SIZE = 16
MAX_PROMPT_TOKENS = 77  # CLIP's context: the tokenizer pads to it, so the text model needs as many positions


def tiny_vocabulary() -> dict[str, int]:
    """CLIP's BPE vocabulary reduced to single characters (each also as a word end, ``</w>``) and its two
    special tokens: with no merges, every word splits into its characters."""
    characters = string.ascii_lowercase + string.digits + string.punctuation
    tokens = [*characters, *(c + "</w>" for c in characters), "<|startoftext|>", "<|endoftext|>"]
    return {token: index for index, token in enumerate(tokens)}


def build_tiny_pipeline(path: str | Path, *, seed: int = 0) -> Path:
    """Write a tiny random StableDiffusionPipeline (diffusers folder with model_index.json) to ``path``;
    returns ``path``. The same ``seed`` writes the same weights."""
    import torch
    from diffusers import AutoencoderKL, DDIMScheduler, StableDiffusionPipeline, UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTokenizer

    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    vocabulary = tiny_vocabulary()
    vocab_file, merges_file = path / "tiny_vocab.json", path / "tiny_merges.txt"
    vocab_file.write_text(json.dumps(vocabulary))
    merges_file.write_text("#version: 0.2\n")
    tokenizer = CLIPTokenizer(vocab=str(vocab_file), merges=str(merges_file), model_max_length=MAX_PROMPT_TOKENS)

    torch.manual_seed(seed)
    unet = UNet2DConditionModel(
        sample_size=TINY_SAMPLE_SIZE, in_channels=4, out_channels=4, layers_per_block=1,
        block_out_channels=(8, 16), norm_num_groups=4, cross_attention_dim=TEXT_HIDDEN_SIZE, attention_head_dim=2,
        down_block_types=("CrossAttnDownBlock2D", "DownBlock2D"), up_block_types=("UpBlock2D", "CrossAttnUpBlock2D"),
    )
    vae = AutoencoderKL(
        in_channels=3, out_channels=3, latent_channels=4, layers_per_block=1, block_out_channels=(8, 16),
        norm_num_groups=4, sample_size=TINY_RESOLUTION,
        down_block_types=("DownEncoderBlock2D", "DownEncoderBlock2D"),
        up_block_types=("UpDecoderBlock2D", "UpDecoderBlock2D"),
    )
    text_encoder = CLIPTextModel(CLIPTextConfig(
        vocab_size=len(vocabulary), hidden_size=TEXT_HIDDEN_SIZE, intermediate_size=32, num_hidden_layers=2,
        num_attention_heads=2, max_position_embeddings=MAX_PROMPT_TOKENS,
        bos_token_id=vocabulary["<|startoftext|>"], eos_token_id=vocabulary["<|endoftext|>"],
        pad_token_id=vocabulary["<|endoftext|>"],
    ))
    scheduler = DDIMScheduler(beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear", clip_sample=False,
                              set_alpha_to_one=False, steps_offset=1)
    pipeline = StableDiffusionPipeline(vae=vae, text_encoder=text_encoder, tokenizer=tokenizer, unet=unet,
                                       scheduler=scheduler, safety_checker=None, feature_extractor=None,
                                       requires_safety_checker=False)
    pipeline.save_pretrained(path)
    vocab_file.unlink()
    merges_file.unlink()
    return path
