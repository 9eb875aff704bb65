"""Checks that transformers loads a Hugging Face export written by `forge checkpoints export --format hf`.

The export is of the tiny Llama fixture imported into ForgeActors, so the logits transformers
computes from it must match the fixture's reference logits.

Usage: python3 check_hf_export.py EXPORT_DIR REFERENCE_SAFETENSORS [LOGITS_KEY]
Exit 1 when max |diff| exceeds 1e-4.
"""
import json
import os
import sys

os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")
import torch
from safetensors.torch import load_file
from transformers import AutoModelForCausalLM

export, reference = sys.argv[1], sys.argv[2]
key = sys.argv[3] if len(sys.argv) > 3 else "llama.logits"
print("files", sorted(os.listdir(export)))
print("config.json", json.dumps(json.load(open(os.path.join(export, "config.json")))))
model = AutoModelForCausalLM.from_pretrained(export).eval()
print("loaded", type(model).__name__, "params", sum(p.numel() for p in model.parameters()))
ref = load_file(reference)
with torch.no_grad():
    logits = model(input_ids=ref["input_ids"]).logits.float()
diff = (logits - ref[key]).abs().max().item()
print(f"max |logits - reference| = {diff:.3e}")
sys.exit(0 if diff <= 1e-4 else 1)
