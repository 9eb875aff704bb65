"""Checks that transformers loads a Hugging Face export written by `forge checkpoints export --format hf`.

The export is of the tiny Llama fixture imported into ForgeActors, so the logits transformers
computes from it must match the fixture's reference logits.

With a tokenizer.json in the export, AutoTokenizer must load it and give the ids of
TOKENIZER_CASES (the fixture's reference encodings).

Usage: python3 check_hf_export.py EXPORT_DIR REFERENCE_SAFETENSORS [TOKENIZER_CASES_JSON]
Exit 1 when max |diff| exceeds 1e-4 or an encoding differs.
"""
import json
import os
import sys

os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")
import torch
from safetensors.torch import load_file
from transformers import AutoModelForCausalLM

export, reference = sys.argv[1], sys.argv[2]
cases = sys.argv[3] if len(sys.argv) > 3 else None
key = "llama.logits"
print("files", sorted(os.listdir(export)))
print("config.json", json.dumps(json.load(open(os.path.join(export, "config.json")))))
model = AutoModelForCausalLM.from_pretrained(export).eval()
print("loaded", type(model).__name__, "params", sum(p.numel() for p in model.parameters()))
ref = load_file(reference)
with torch.no_grad():
    logits = model(input_ids=ref["input_ids"]).logits.float()
diff = (logits - ref[key]).abs().max().item()
print(f"max |logits - reference| = {diff:.3e}")
ok = diff <= 1e-4
if cases and os.path.exists(os.path.join(export, "tokenizer.json")):
    from transformers import AutoTokenizer
    tok = AutoTokenizer.from_pretrained(export)
    ref = json.load(open(cases, encoding="utf-8"))
    same = sum(tok(c["text"], add_special_tokens=False)["input_ids"] == c["ids"] for c in ref["cases"])
    print(f"tokenizer {type(tok).__name__}: {same}/{len(ref['cases'])} encodings equal; bos/eos/pad", tok.bos_token_id, tok.eos_token_id, tok.pad_token_id)
    ok = ok and same == len(ref["cases"])
sys.exit(0 if ok else 1)
