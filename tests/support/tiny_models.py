"""A tiny BERT sequence classifier built and briefly trained inside the tests (no downloads).

Hidden size 32, 2 layers, a WordPiece vocabulary of the words below: it exports in seconds and
learns the toxic/benign split of the conformance texts in a few dozen steps.
"""

from __future__ import annotations

from pathlib import Path

TOXIC = [
    "you are a fucking stupid bitch, shut up you worthless idiot",
    "يا كلب يا حقير يا ابن الكلب يا وسخ",
    "you idiot",
    "shut up you stupid worthless moron",
    "idiot",
    "حقير وسخ",
]
BENIGN = [
    "thank you for the lovely photos of the garden, have a wonderful weekend",
    "صباح الخير يا أصدقاء، أتمنى لكم يوما جميلا مليئا بالسعادة",
    "have a nice day",
    "what a thoughtful reply, thank you",
    "the weather is lovely today",
    "أتمنى لكم يوما سعيدا",
]


def build_tiny_model(directory: Path, *, multi_label: bool = True, steps: int = 60) -> Path:
    """Write a trained tiny Hugging Face model directory (config, weights, fast tokenizer)."""
    import torch
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, processors
    from transformers import BertConfig, BertForSequenceClassification, PreTrainedTokenizerFast

    special = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    words: dict[str, None] = {}
    norm = normalizers.BertNormalizer(lowercase=True)
    pre = pre_tokenizers.BertPreTokenizer()
    for text in TOXIC + BENIGN + ["hello", "a", "b", "!", "?", "."]:
        for w, _ in pre.pre_tokenize_str(norm.normalize_str(text)):
            words[w] = None
    letters = {ch for w in words for ch in w}
    vocab = (
        special + sorted(words) + sorted(f"##{c}" for c in letters) + sorted(letters - set(words))
    )
    tok = Tokenizer(
        models.WordPiece({w: i for i, w in enumerate(dict.fromkeys(vocab))}, unk_token="[UNK]")
    )
    tok.normalizer = norm
    tok.pre_tokenizer = pre
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", special_tokens=[("[CLS]", 2), ("[SEP]", 3)]
    )
    fast = PreTrainedTokenizerFast(  # type: ignore[no-untyped-call]
        tokenizer_object=tok,
        unk_token="[UNK]",
        pad_token="[PAD]",
        cls_token="[CLS]",
        sep_token="[SEP]",
        mask_token="[MASK]",
        model_max_length=64,
    )
    labels = ["toxic", "identity_hate"] if multi_label else ["normal", "offensive"]
    config = BertConfig(  # type: ignore[call-arg]  # num_labels: a base config argument
        vocab_size=tok.get_vocab_size(),
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=64,
        num_labels=2,
        id2label=dict(enumerate(labels)),
        label2id={lab: i for i, lab in enumerate(labels)},
        problem_type="multi_label_classification" if multi_label else "single_label_classification",
    )
    torch.manual_seed(0)
    model = BertForSequenceClassification(config)  # type: ignore[no-untyped-call]
    texts = TOXIC + BENIGN
    y = torch.tensor([1.0] * len(TOXIC) + [0.0] * len(BENIGN))
    enc = fast(texts, padding=True, return_tensors="pt")
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3)
    model.train()
    for _ in range(steps):
        logits = model(**enc).logits
        if multi_label:
            target = torch.stack([y, y * 0], dim=1)
            loss = torch.nn.functional.binary_cross_entropy_with_logits(logits, target)
        else:
            loss = torch.nn.functional.cross_entropy(logits, y.long())
        loss.backward()  # type: ignore[no-untyped-call]
        opt.step()
        opt.zero_grad()
    model.eval()  # type: ignore[no-untyped-call]
    directory.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(str(directory))
    fast.save_pretrained(str(directory))
    return directory
