"""KempnerForge's side of the MoE and MoT speed comparison (issue #19), one GPU.

Builds KempnerForge's own VLM (build_parallel_model, no mesh) for exactly the shapes of
`forge bench model --preset moe-ca-debug` and `--preset mot-debug` (config/moe-ca-debug-bench.toml,
config/mot-debug-bench.toml: KempnerForge's configs/train/vlm_debug_moe.toml and vlm_debug_mot.toml)
and times a training step: forward, the caption loss (plus the MoE auxiliary loss at KempnerForge's
default weight, as ForgeActors adds it), backward, clip at 1.0, fused AdamW. Two precisions: fp32
params with bf16 autocast (fp32 master weights and bf16 compute, as ForgeActors trains) and pure
bf16 params; eager and torch.compile. Prints one JSON line per run with text tok/s and
torch.cuda.max_memory_allocated.

Usage (on the GPU machine): KF_SRC=<dir holding kempnerforge/> python3 scripts/kf_archs_bench.py [moe-ca-debug] [mot-debug]
"""
import json
import os
import sys
import time

sys.path.insert(0, os.environ.get("KF_SRC", "kf"))
import torch  # noqa: E402
from kempnerforge.config.adapter import AdapterConfig  # noqa: E402
from kempnerforge.config.model import ModelConfig  # noqa: E402
from kempnerforge.config.vision import VisionEncoderConfig  # noqa: E402
from kempnerforge.config.vlm import CrossAttentionConfig, FreezeSpec, MoTConfig  # noqa: E402
from kempnerforge.distributed.parallel import build_parallel_model  # noqa: E402
from kempnerforge.model.vlm import inner_transformer  # noqa: E402

# The presets' [model], [vlm], [vision_encoder] and [train] values, key for key.
CONFIGS = {
    "moe-ca-debug": dict(
        model=dict(dim=256, n_layers=4, n_heads=4, n_kv_heads=2, vocab_size=50257, max_seq_len=576, num_experts=4, moe_frequency=2),
        vlm=lambda: CrossAttentionConfig(max_text_len=512, cross_attention_every_n_layers=2, freeze=[FreezeSpec("vision_encoder", True)]),
        feature_dim=384, image_tokens=64, text_len=512, batch=2),
    "mot-debug": dict(
        model=dict(dim=256, n_layers=4, n_heads=4, n_kv_heads=4, vocab_size=50257, max_seq_len=576),
        vlm=lambda: MoTConfig(max_text_len=512, freeze=[FreezeSpec("vision_encoder", True)]),
        feature_dim=384, image_tokens=64, text_len=512, batch=2),
}


def bench(name, compile_model, amp, steps=30, warm=5):
    c = CONFIGS[name]
    dev = torch.device("cuda")
    mc = ModelConfig(**c["model"])
    vc = VisionEncoderConfig(type="random", feature_dim=c["feature_dim"], num_tokens=c["image_tokens"])
    torch.manual_seed(42)
    torch.cuda.reset_peak_memory_stats()
    model = build_parallel_model(mc, device=dev, device_mesh=None, vision_config=vc, adapter_config=AdapterConfig(type="mlp_2layer"),
                                 vlm_config=c["vlm"](), param_dtype=torch.float32 if amp else torch.bfloat16, compile_model=compile_model)
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=3e-4, fused=True)
    B, T, V = c["batch"], c["text_len"], mc.vocab_size
    pix = torch.randn(B, 3, 224, 224, device=dev)
    ids = torch.randint(0, V, (B, T), device=dev)
    labels = torch.roll(ids, -1, 1)
    moe = mc.num_experts > 0

    def step():
        with torch.autocast("cuda", dtype=torch.bfloat16, enabled=amp):
            out = model(pixel_values=pix, input_ids=ids)
        logits = out if torch.is_tensor(out) else out[0]
        loss = torch.nn.functional.cross_entropy(logits.float().reshape(-1, V), labels.reshape(-1))
        if moe:
            loss = loss + mc.moe_aux_loss_weight * inner_transformer(model).get_moe_aux_loss()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        opt.zero_grad(set_to_none=True)
        return loss

    t_build = time.perf_counter()
    for _ in range(warm):
        step()
    torch.cuda.synchronize()
    warm_s = time.perf_counter() - t_build
    times = []
    for _ in range(steps):
        t0 = time.perf_counter()
        loss = step()
        torch.cuda.synchronize()
        times.append(time.perf_counter() - t0)
    times.sort()
    median = times[len(times) // 2]
    print(json.dumps({"system": "kempnerforge", "config": name, "compile": compile_model, "amp_fp32_master": amp,
                      "trainable_params": sum(p.numel() for p in params), "step_ms_median": round(median * 1e3, 2),
                      "step_ms_min": round(times[0] * 1e3, 2), "text_tok_per_s": round(B * T / median), "loss": round(float(loss), 4),
                      "peak_alloc_gib": round(torch.cuda.max_memory_allocated() / 2**30, 3), "warmup_s": round(warm_s, 1),
                      "gpu": torch.cuda.get_device_name()}), flush=True)
    del model, opt
    torch.cuda.empty_cache()


if __name__ == "__main__":
    for name in sys.argv[1:] or CONFIGS:
        for amp in (True, False):
            for compiled in (False, True):
                try:
                    bench(name, compiled, amp)
                except Exception as e:  # one failed variant must not cost the others
                    print(json.dumps({"system": "kempnerforge", "config": name, "compile": compiled, "amp_fp32_master": amp,
                                      "error": repr(e)[:400]}), flush=True)
