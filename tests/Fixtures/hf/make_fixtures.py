"""Makes the tiny Hugging Face parity fixtures that ForgeActors' CPU tests read.

No model hub is reachable, so every model here is random and tiny (width 32, two layers); what
the tests check is that ForgeActors computes the same function as `transformers` from the same
files, not that the weights mean anything.

Writes, under the output directory:
  llama/          LlamaForCausalLM (untied head, GQA 4 heads / 2 KV heads, rope_theta 50000)
                  + the tokenizer (tokenizer.json, tokenizer_config.json)
  llama-tied/     the same shape with tie_word_embeddings = true (no lm_head.weight in the file)
  llama-sharded/  the untied model saved in several model-*.safetensors shards with their index
  siglip/         SiglipVisionModel + preprocessor_config.json
  clip/           CLIPVisionModel + preprocessor_config.json
  reference/      fixed inputs and the outputs transformers computes for them
  check_hf_export.py is separate: it checks an export written by ForgeActors.

Usage: python3 make_fixtures.py OUT_DIR   (CPU is enough; packs OUT_DIR/fixtures.tar.gz)
"""
import json
import os
import sys
import tarfile

os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")
import numpy as np
import torch
from PIL import Image
from safetensors.torch import save_file
import transformers
from transformers import (CLIPVisionConfig, CLIPVisionModel, LlamaConfig, LlamaForCausalLM,
                          PreTrainedTokenizerFast, SiglipVisionConfig, SiglipVisionModel)
import tokenizers
from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers, processors, trainers

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = sys.argv[1]
# Built outside OUT and packed: the device call returns at most a few files.
ROOT = os.path.join("/tmp", "forge-hf-fixtures", "hf")
REF = os.path.join(ROOT, "reference")
os.makedirs(REF, exist_ok=True)
torch.manual_seed(0)
torch.set_num_threads(4)
print("torch", torch.__version__, "transformers", transformers.__version__, "tokenizers", tokenizers.__version__, flush=True)

VOCAB = 384
SPECIALS = ["<|begin_of_text|>", "<|end_of_text|>", "<|finetune_right_pad_id|>"]
THETA = 50000.0
# Llama 3's pre-tokenizer split (the published tokenizer.json pattern).
LLAMA3_SPLIT = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*"
                r"|\s*[\r\n]+|\s+(?!\S)|\s+")


def randomise(model, gen):
    """Replaces the HF init (norms at one, biases at zero) so every parameter's mapping matters."""
    with torch.no_grad():
        for name, p in model.named_parameters():
            if p.dim() == 1 and ("norm" in name or "layernorm" in name or "layer_norm" in name) and name.endswith("weight"):
                p.copy_(1.0 + 0.1 * torch.randn(p.shape, generator=gen))
            elif name.endswith("bias"):
                p.copy_(0.05 * torch.randn(p.shape, generator=gen))
            else:
                p.copy_(0.1 * torch.randn(p.shape, generator=gen))


# ---------------------------------------------------------------- tokenizer
tok = Tokenizer(models.BPE())
tok.pre_tokenizer = pre_tokenizers.Sequence([
    pre_tokenizers.Split(Regex(LLAMA3_SPLIT), behavior="isolated", invert=False),
    pre_tokenizers.ByteLevel(add_prefix_space=False, trim_offsets=True, use_regex=False),
])
tok.decoder = decoders.ByteLevel()
trainer = trainers.BpeTrainer(vocab_size=VOCAB - len(SPECIALS), min_frequency=2, show_progress=False,
                              initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
tok.train([os.path.join(HERE, "corpus.txt")], trainer)
trained = tok.get_vocab_size()
tok.add_special_tokens(SPECIALS)
bos, eos, pad = (tok.token_to_id(s) for s in SPECIALS)
tok.post_processor = processors.TemplateProcessing(single=f"{SPECIALS[0]} $A", special_tokens=[(SPECIALS[0], bos)])
print("tokenizer: trained", trained, "total", tok.get_vocab_size(), "bos/eos/pad", bos, eos, pad, flush=True)
assert tok.get_vocab_size() <= VOCAB

texts = [
    "grinning face with smiling eyes",
    "Hello, world! It's 2024 and we'll see 12345 cats.",
    "  leading spaces\tand tabs\nnew line\r\nend",
    "\u00e9moji caf\u00e9 na\u00efve \U0001F600 \u65e5\u672c\u8a9e",
    "don't STOP'S  multiple   spaces    ",
    "flag: United Kingdom (England) -- red_heart #1",
]
cases = []
for t in texts:
    ids = tok.encode(t, add_special_tokens=False).ids
    cases.append({"text": t, "ids": ids, "decoded": tok.decode(ids)})


def save_tokenizer(directory):
    try:
        fast = PreTrainedTokenizerFast(tokenizer_object=tok, bos_token=SPECIALS[0], eos_token=SPECIALS[1], pad_token=SPECIALS[2])
        fast.save_pretrained(directory)
    except Exception as e:  # the tokenizer classes moved in transformers 5; the files are what matter
        print("PreTrainedTokenizerFast.save_pretrained failed:", repr(e), flush=True)
        tok.save(os.path.join(directory, "tokenizer.json"))
        with open(os.path.join(directory, "tokenizer_config.json"), "w") as f:
            json.dump({"bos_token": SPECIALS[0], "eos_token": SPECIALS[1], "pad_token": SPECIALS[2],
                       "tokenizer_class": "PreTrainedTokenizerFast"}, f, indent=1)
    print("tokenizer files", sorted(os.listdir(directory)), flush=True)
    print(open(os.path.join(directory, "tokenizer_config.json")).read()[:1500], flush=True)
    from transformers import AutoTokenizer
    check = AutoTokenizer.from_pretrained(directory)
    for c in cases:
        assert check(c["text"], add_special_tokens=False)["input_ids"] == c["ids"], c["text"]


with open(os.path.join(REF, "tokenizer_cases.json"), "w", encoding="utf-8") as f:
    json.dump({"bos_id": bos, "eos_id": eos, "pad_id": pad, "vocab_size": tok.get_vocab_size(), "cases": cases}, f, ensure_ascii=False, indent=1)

# ---------------------------------------------------------------- Llama
def llama_config(tied):
    kw = dict(vocab_size=VOCAB, hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4,
              num_key_value_heads=2, max_position_embeddings=128, rms_norm_eps=1e-5, tie_word_embeddings=tied,
              attention_bias=False, mlp_bias=False, bos_token_id=bos, eos_token_id=eos, pad_token_id=pad,
              hidden_act="silu")
    try:
        cfg = LlamaConfig(**kw, rope_parameters={"rope_type": "default", "rope_theta": THETA})
    except TypeError:
        cfg = LlamaConfig(**kw, rope_theta=THETA)
    return cfg


def build_llama(tied, seed):
    cfg = llama_config(tied)
    model = LlamaForCausalLM(cfg).eval()
    inv = model.model.rotary_emb.inv_freq
    want = THETA ** (-torch.arange(0, 8, 2, dtype=torch.float64) / 8)
    if not torch.allclose(inv.double(), want, rtol=1e-5):
        cfg = LlamaConfig(**{**cfg.to_dict(), "rope_theta": THETA})
        model = LlamaForCausalLM(cfg).eval()
        assert torch.allclose(model.model.rotary_emb.inv_freq.double(), want, rtol=1e-5), "could not set rope_theta"
    randomise(model, torch.Generator().manual_seed(seed))
    if tied:
        assert model.lm_head.weight.data_ptr() == model.model.embed_tokens.weight.data_ptr(), "head is not tied"
    return model


gen = torch.Generator().manual_seed(7)
input_ids = torch.randint(0, VOCAB, (2, 12), generator=gen)
refs = {"input_ids": input_ids}
for name, tied, seed in [("llama", False, 1), ("llama-tied", True, 2)]:
    model = build_llama(tied, seed)
    d = os.path.join(ROOT, name)
    model.save_pretrained(d)
    with torch.no_grad():
        logits = model(input_ids=input_ids).logits.float()
    refs[f"{name}.logits"] = logits.contiguous()
    print(name, sorted(os.listdir(d)), "logits", tuple(logits.shape), "std", float(logits.std()), flush=True)
    if name == "llama":
        save_tokenizer(d)
        sharded = os.path.join(ROOT, "llama-sharded")
        model.save_pretrained(sharded, max_shard_size="60KB")
        print("llama-sharded", sorted(os.listdir(sharded)), flush=True)
        reloaded = LlamaForCausalLM.from_pretrained(sharded).eval()
        with torch.no_grad():
            assert torch.equal(reloaded(input_ids=input_ids).logits, logits)
save_file(refs, os.path.join(REF, "llama.safetensors"))

# ---------------------------------------------------------------- vision towers
def smooth_image(w, h, phase):
    y, x = np.mgrid[0:h, 0:w].astype(np.float64)
    r = 127.5 + 120 * np.sin(x / w * 3.1 + phase)
    g = 127.5 + 120 * np.cos(y / h * 2.3 - phase)
    b = 127.5 + 120 * np.sin((x + y) / (w + h) * 4.0 + 2 * phase)
    return Image.fromarray(np.stack([r, g, b], -1).round().clip(0, 255).astype(np.uint8), "RGB")


images = {"square": smooth_image(32, 32, 0.3), "wide": smooth_image(48, 40, 1.1)}
for key, im in images.items():
    im.save(os.path.join(REF, f"image-{key}.png"))


def processor(kind):
    # The slow (PIL) processors: the fast ones need torchvision, and the slow ones are the reference.
    import transformers as t
    names = ["SiglipImageProcessor", "SiglipImageProcessorFast"] if kind == "siglip" else ["CLIPImageProcessor", "CLIPImageProcessorFast"]
    for n in names:
        try:
            P = getattr(t, n)
            p = P(size={"height": 32, "width": 32}) if kind == "siglip" else P(size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32})
            print("processor", n, flush=True)
            return p
        except Exception as e:
            print("processor", n, "failed:", repr(e), flush=True)
    raise RuntimeError("no image processor")


pixel_values = torch.randn(2, 3, 32, 32, generator=torch.Generator().manual_seed(11))
for kind in ["siglip", "clip"]:
    if kind == "siglip":
        cfg = SiglipVisionConfig(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4,
                                 image_size=32, patch_size=8, num_channels=3, layer_norm_eps=1e-6,
                                 hidden_act="gelu_pytorch_tanh")
        model = SiglipVisionModel(cfg).eval()
    else:
        cfg = CLIPVisionConfig(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4,
                               image_size=32, patch_size=8, num_channels=3, layer_norm_eps=1e-5,
                               hidden_act="quick_gelu", projection_dim=16)
        model = CLIPVisionModel(cfg).eval()
    randomise(model, torch.Generator().manual_seed(3 if kind == "siglip" else 4))
    d = os.path.join(ROOT, kind)
    model.save_pretrained(d)
    proc = processor(kind)
    proc.save_pretrained(d)
    out = {"pixel_values": pixel_values}
    with torch.no_grad():
        out["last_hidden_state"] = model(pixel_values=pixel_values).last_hidden_state.float().contiguous()
    for key, im in images.items():
        pv = torch.as_tensor(proc(images=im, return_tensors="pt")["pixel_values"]).to(torch.float32)
        out[f"pixels.{key}"] = pv.contiguous()
    save_file(out, os.path.join(REF, f"{kind}.safetensors"))
    print(kind, sorted(os.listdir(d)), {k: tuple(v.shape) for k, v in out.items()}, flush=True)
    print(open(os.path.join(d, "preprocessor_config.json")).read(), flush=True)

for d in ["llama", "siglip", "clip"]:
    print(d, "config.json:", open(os.path.join(ROOT, d, "config.json")).read(), flush=True)

with tarfile.open(os.path.join(OUT, "fixtures.tar.gz"), "w:gz") as tar:
    tar.add(ROOT, arcname="hf")
total = 0
for dirpath, _, files in os.walk(ROOT):
    for f in files:
        size = os.path.getsize(os.path.join(dirpath, f))
        total += size
        print(f"{os.path.relpath(os.path.join(dirpath, f), ROOT)} {size}")
print("total bytes", total, "tar", os.path.getsize(os.path.join(OUT, "fixtures.tar.gz")), flush=True)
