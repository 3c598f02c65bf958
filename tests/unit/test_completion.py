"""`coledger completion bash|zsh|fish`: shtab's scripts, generated from the parser, name
every command; the bash one completes a command, a group's commands and a choice in bash."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import cli

ROOT = Path(__file__).resolve().parents[2]
PATHS = [path for path, _, _ in cli._COMMANDS]


def script(shell: str) -> str:
    proc = subprocess.run([sys.executable, str(ROOT / "cli.py"), "completion", shell],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0 and proc.stderr == "", proc.stderr
    return proc.stdout


@pytest.fixture(scope="module")
def bash_script() -> str:
    return script("bash")


def test_the_bash_script_names_every_command(bash_script: str) -> None:
    lists = {name: words.split() for name, words in
             re.findall(r"^_shtab_coledger(\w*)_subparsers=\((.*)\)$", bash_script, re.M)}
    for path in PATHS:
        *group, word = path.split()
        key = "".join(f"_{g}" for g in group)
        assert word in lists.get(key, []), f"{path} not in the bash script"
    assert "add" in lists["_peers"] and "show" in lists["_config"]


@pytest.mark.parametrize("shell", ["zsh", "fish"])
def test_the_zsh_and_fish_scripts_are_made_and_name_every_command(shell: str) -> None:
    text = script(shell)
    assert ("#compdef coledger" if shell == "zsh" else "complete -c coledger") in text
    missing = [p for p in PATHS if p.split()[-1] not in text]
    assert not missing


def test_an_unknown_shell_is_a_usage_error() -> None:
    proc = subprocess.run([sys.executable, str(ROOT / "cli.py"), "completion", "tcsh"],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2 and "invalid choice" in proc.stderr


@pytest.mark.skipif(shutil.which("bash") is None, reason="no bash here")
@pytest.mark.parametrize("words, expected", [
    (["coledger", "pe"], {"peers", "pending"}),
    (["coledger", "peers", ""], {"add"}),
    (["coledger", "config", ""], {"show"}),
    (["coledger", "run", "--log-f"], {"--log-format"}),
    (["coledger", "completion", ""], {"bash", "zsh", "fish"}),
])
def test_bash_completes_with_the_script(bash_script: str, tmp_path: Path, words: list[str],
                                        expected: set[str]) -> None:
    (tmp_path / "coledger.bash").write_text(bash_script)
    quoted = " ".join(f"'{w}'" for w in words)
    program = (f"source {tmp_path / 'coledger.bash'}; COMP_WORDS=({quoted}); "
               f"COMP_CWORD={len(words) - 1}; _shtab_coledger; "
               "printf '%s\\n' \"${COMPREPLY[@]}\"")
    out = subprocess.run(["bash", "-c", program], capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out.stderr
    assert set(out.stdout.split()) == expected
