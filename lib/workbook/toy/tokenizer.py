"""The toy reasoner's character-level tokenizer, saved as an ordinary ``PreTrainedTokenizerFast``.

One token per character of printable ASCII plus newline, a ``Fuse`` decoder (decoding adds no spaces), six
special tokens and, from world version 2, the world's fixed phrases (``workbook.toy.world.TOKEN_PHRASES``: the
instructions, `` = ``, ``\\boxed{`` ...) as single ordinary tokens, matched longest first before the character
split — the same text in about half the tokens. A minimal Jinja chat template makes TRL, the generation backends
and ``workbook.generation.build_prompt`` treat it like a real chat model.

Pitfall: ``AutoTokenizer.from_pretrained`` on a folder whose config.json says qwen2 returns a byte-level
``Qwen2Tokenizer`` that ignores tokenizer.json; always load with :func:`load_tokenizer`.
"""

from __future__ import annotations

from pathlib import Path

PAD, UNK, SYSTEM, USER, ASSISTANT, END = "<pad>", "<unk>", "<|system|>", "<|user|>", "<|assistant|>", "<|end|>"
SPECIAL_TOKENS = (PAD, UNK, SYSTEM, USER, ASSISTANT, END)
#: Every ordinary character the tokenizer knows: newline and printable ASCII.
CHARACTERS = "\n" + "".join(chr(c) for c in range(32, 127))

#: A user turn ends with a newline; an assistant turn ends with the EOS token <|end|>.
CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "{% if message['role'] == 'system' %}" + SYSTEM + "{{ message['content'] }}\n"
    "{% elif message['role'] == 'user' %}" + USER + "{{ message['content'] }}\n"
    "{% elif message['role'] == 'assistant' %}" + ASSISTANT + "{{ message['content'] }}" + END + "\n"
    "{% endif %}{% endfor %}"
    "{% if add_generation_prompt %}" + ASSISTANT + "{% endif %}"
)


def build_tokenizer(phrases: tuple[str, ...] = ()):
    """Return a fresh ``PreTrainedTokenizerFast``: 6 specials + 96 characters (+ ``phrases``, one token each)."""
    from tokenizers import AddedToken, Regex, Tokenizer, decoders, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    vocab = {tok: i for i, tok in enumerate(SPECIAL_TOKENS)}
    for ch in CHARACTERS:
        vocab[ch] = len(vocab)
    core = Tokenizer(models.WordLevel(vocab=vocab, unk_token=UNK))
    # `(?s).` is rejected by the tokenizers regex engine; `[\s\S]` isolates every character.
    core.pre_tokenizer = pre_tokenizers.Split(Regex(r"[\s\S]"), behavior="isolated")
    core.decoder = decoders.Fuse()
    tok = PreTrainedTokenizerFast(
        tokenizer_object=core,
        pad_token=PAD,
        unk_token=UNK,
        eos_token=END,
        additional_special_tokens=[SYSTEM, USER, ASSISTANT],
        padding_side="left",
        clean_up_tokenization_spaces=False,
        model_max_length=1024,
    )
    tok.chat_template = CHAT_TEMPLATE
    if phrases:
        tok.add_tokens([AddedToken(p, normalized=False, special=False, single_word=False) for p in phrases])
    return tok


def load_tokenizer(path: str | Path):
    """Return the tokenizer saved in ``path`` (never through AutoTokenizer: see the module docstring)."""
    from transformers import PreTrainedTokenizerFast

    tok = PreTrainedTokenizerFast.from_pretrained(str(path))
    if tok.chat_template is None:
        tok.chat_template = CHAT_TEMPLATE
    return tok
