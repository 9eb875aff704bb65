"""Reference logits from KempnerForge's own models, for ForgeActors' parity tests.

Builds two small KempnerForge text stacks with their own builders (kempnerforge/ from the
repository's HEAD, unpacked next to this script):

  moe_ca: cross_attention, 4 layers, MoE (4 experts, top-2, one shared expert, capacity
          factor 1.0 so tokens are dropped) on every 2nd layer, a CA block every 2nd layer;
  mot:    vlm.arch = "mot", 2 layers, image and text modalities.

Every parameter gets a fixed random value (KempnerForge zero-initialises CA and MoT residual
projections, which would hide them from the comparison), fixed vision features go through an
mlp_2layer adapter, and the weights, the inputs and KempnerForge's logits (plus the MoE aux,
z losses and per-layer expert counts) are written to one safetensors file per case.

Usage: python3 make_fixtures.py OUT_DIR   (CPU is enough; set CUDA_VISIBLE_DEVICES="")
"""

from __future__ import annotations

import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "kf"))

import torch  # noqa: E402
from safetensors.torch import save_file  # noqa: E402

from kempnerforge.config.model import ModelConfig  # noqa: E402
from kempnerforge.config.vlm import CrossAttentionConfig, MoTConfig  # noqa: E402
from kempnerforge.model.adapter import MLP2LayerAdapter  # noqa: E402
from kempnerforge.model.modality import ModalityContext  # noqa: E402
from kempnerforge.model.transformer import Transformer  # noqa: E402

BATCH, TEXT_LEN, IMAGE_TOKENS, FEATURE_DIM, VOCAB = 2, 10, 6, 16, 40


def randomise(module: torch.nn.Module, generator: torch.Generator) -> None:
    """Every weight non-zero and O(1) activations: matrices N(0, 1/fan_in), norms 1 + N(0, 0.1^2)."""
    with torch.no_grad():
        for name, p in module.named_parameters():
            if p.dim() >= 2:
                p.copy_(torch.randn(p.shape, generator=generator) / p.shape[1] ** 0.5)
            elif "norm" in name:
                p.copy_(1.0 + 0.1 * torch.randn(p.shape, generator=generator))
            else:
                p.copy_(0.1 * torch.randn(p.shape, generator=generator))


def inputs(seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    features = torch.randn(BATCH, IMAGE_TOKENS, FEATURE_DIM, generator=g)
    ids = torch.randint(3, VOCAB, (BATCH, TEXT_LEN), generator=g)
    return features, ids


def export(path: str, transformer: Transformer, adapter: torch.nn.Module, tensors: dict, meta: dict) -> None:
    out = {f"transformer.{k}": v.detach().contiguous() for k, v in transformer.state_dict().items()}
    out.update({f"adapter.{k}": v.detach().contiguous() for k, v in adapter.state_dict().items()})
    out.update({f"fixture.{k}": v.detach().contiguous() for k, v in tensors.items()})
    save_file(out, path, metadata={k: json.dumps(v) for k, v in meta.items()})
    print(f"{path}: {len(out)} tensors, {os.path.getsize(path)} bytes", flush=True)


def moe_ca(out_dir: str) -> None:
    config = ModelConfig(
        dim=32, n_layers=4, n_heads=4, n_kv_heads=2, vocab_size=VOCAB, ffn_hidden_dim=64,
        max_seq_len=64, num_experts=4, moe_top_k=2, moe_frequency=2, moe_router="softmax_topk",
        moe_shared_experts=1, moe_capacity_factor=1.0, moe_aux_loss_weight=0.01,
        moe_router_z_loss_weight=0.001,
    )
    vlm = CrossAttentionConfig(max_text_len=TEXT_LEN, cross_attention_every_n_layers=2)
    torch.manual_seed(0)
    transformer = Transformer(config, vlm_config=vlm)
    adapter = MLP2LayerAdapter(FEATURE_DIM, 32, 32, activation="gelu")
    g = torch.Generator().manual_seed(1)
    randomise(transformer, g)
    randomise(adapter, g)
    transformer.eval()
    features, ids = inputs(2)
    with torch.no_grad():
        embeds = adapter(features)
        logits = transformer(tokens=ids, modality=ModalityContext(image_features=embeds))
        aux = transformer.get_moe_aux_loss()
        z = transformer.get_moe_router_z_loss()
        counts = transformer.get_expert_counts()
    tensors = {"features": features, "input_ids": ids, "logits": logits,
               "aux_loss": aux.reshape(1), "z_loss": z.reshape(1)}
    for layer, c in counts.items():
        tensors[f"expert_counts.{layer}"] = c.float()
    print("moe_ca logits", tuple(logits.shape), "aux", aux.item(), "z", z.item(),
          {k: v.tolist() for k, v in counts.items()}, flush=True)
    meta = {"model": {k: v for k, v in vars(config).items() if isinstance(v, (int, float, str, bool, type(None)))},
            "vlm": {"arch": "cross_attention", "cross_attention_every_n_layers": 2}}
    export(os.path.join(out_dir, "moe_ca.safetensors"), transformer, adapter, tensors, meta)


def mot(out_dir: str) -> None:
    config = ModelConfig(
        dim=32, n_layers=2, n_heads=4, n_kv_heads=2, vocab_size=VOCAB, ffn_hidden_dim=64, max_seq_len=64,
    )
    vlm = MoTConfig(max_text_len=TEXT_LEN)
    torch.manual_seed(0)
    transformer = Transformer(config, vlm_config=vlm, num_image_tokens=IMAGE_TOKENS)
    adapter = MLP2LayerAdapter(FEATURE_DIM, 32, 32, activation="gelu")
    g = torch.Generator().manual_seed(3)
    randomise(transformer, g)
    randomise(adapter, g)
    transformer.eval()
    features, ids = inputs(4)
    with torch.no_grad():
        embeds = adapter(features)
        n = embeds.shape[1]
        modality_ids = torch.zeros(BATCH, n + TEXT_LEN, dtype=torch.long)
        modality_ids[:, n:] = 1
        logits = transformer(tokens=ids, modality=ModalityContext(
            prefix_embeds=embeds, output_slice=slice(n, None), modality_ids=modality_ids))
    print("mot logits", tuple(logits.shape), flush=True)
    meta = {"model": {k: v for k, v in vars(config).items() if isinstance(v, (int, float, str, bool, type(None)))},
            "vlm": {"arch": "mot"}}
    export(os.path.join(out_dir, "mot.safetensors"), transformer, adapter,
           {"features": features, "input_ids": ids, "logits": logits}, meta)


if __name__ == "__main__":
    out = sys.argv[1] if len(sys.argv) > 1 else "."
    os.makedirs(out, exist_ok=True)
    torch.set_num_threads(4)
    print("torch", torch.__version__, flush=True)
    moe_ca(out)
    mot(out)
