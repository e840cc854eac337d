"""The ``workbook`` command's own surface: documented exit statuses and the subcommands it hands to other modules."""

from __future__ import annotations

import sys
import types

import pytest

from workbook import cli


def test_help_documents_exit_statuses(capsys):
    for argv in (["--help"], ["run", "--help"], ["run-all", "--help"]):
        with pytest.raises(SystemExit):
            cli.main(argv)
        out = capsys.readouterr().out
        for code in ("0 ", "1 ", "2 ", "3 ", "130", "143"):
            assert f"\n  {code}" in out, (argv, code)
        if argv != ["--help"]:
            assert "--allow-dirty" in out


@pytest.mark.parametrize("argv, module, rest", [
    (["prepare", "--help"], "workbook.toy.prepare", ["--help"]),
    (["prepare"], "workbook.toy.prepare", []),
    (["-v", "data", "fetch", "aime24", "--force"], "workbook.data.fetch", ["aime24", "--force"]),
])
def test_delegated_subcommands_call_main_with_the_rest(monkeypatch, argv, module, rest):
    calls = []
    monkeypatch.setitem(sys.modules, module, types.SimpleNamespace(main=lambda a: calls.append(a) or 7))
    assert cli.main(argv) == 7
    assert calls == [rest]


def test_missing_delegate_is_one_clear_error(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "workbook.toy.prepare", None)  # import fails as if the module were absent
    assert cli.main(["prepare"]) == 2
    assert "workbook.toy.prepare is not available" in capsys.readouterr().err


def test_progress_bars_are_split_from_log_lines():
    from workbook.run_guard import split_progress

    seg = "  Executing:   5%|▌         | 1/19 [00:01<00:19,  1.10s/cell]Executing Cell 2-----".encode()
    bars, rest = split_progress(seg)
    assert bars == ["Executing:   5%|▌         | 1/19 [00:01<00:19,  1.10s/cell]".encode()]
    assert rest.strip() == b"Executing Cell 2-----"
    assert split_progress(b"hello from a cell") == ([], b"hello from a cell")
