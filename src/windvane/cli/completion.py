"""``windvane completion bash|zsh|fish``: shell completion scripts generated from the parser.

Why generated scripts and not argcomplete: argcomplete runs ``windvane``
itself on every Tab (a Python start-up per key press), needs a marker in the
entry script and global activation, and is one more dependency. The
command tree is static, so a script holding it completes instantly, needs
nothing installed, and cannot drift: it is printed from the parser of the
running version (:mod:`windvane.cli.parser.walk`). It completes command
names, option names, and option or positional values that have fixed
choices (``-o table|json|plain``); other option values complete as file
names. The three scripts share one table: per command path, its
sub-commands, options, options taking a value, and choices.
"""

from __future__ import annotations

import argparse
import shlex
from dataclasses import dataclass, field

from windvane.cli.base import EXIT_OK, Cli
from windvane.cli.parser import build_parser
from windvane.cli.parser.walk import commands


@dataclass
class _Table:
    """What the scripts look up, keyed by the command ``"windvane dags list"`` (bash has no empty keys)."""

    subs: dict[str, str] = field(default_factory=dict)
    opts: dict[str, str] = field(default_factory=dict)
    takes: dict[str, str] = field(default_factory=dict)
    positional: dict[str, str] = field(default_factory=dict)
    #: ``"windvane dags list|--output"`` -> ``"table json plain"``.
    choices: dict[str, str] = field(default_factory=dict)


def _table(parser: argparse.ArgumentParser) -> _Table:
    table = _Table()
    for command in commands(parser):
        key = command.name
        table.subs[key] = " ".join(command.subcommands)
        table.opts[key] = " ".join(command.options)
        table.takes[key] = " ".join(command.value_options)
        values: list[str] = []
        for action in command.arguments:
            if action.choices is None:
                continue
            words = " ".join(str(c) for c in action.choices)
            if action.option_strings:
                for option in action.option_strings:
                    table.choices[f"{key}|{option}"] = words
            else:
                values.append(words)
        table.positional[key] = " ".join(values)
    return table


def _assoc(name: str, mapping: dict[str, str]) -> str:
    pairs = " ".join(f"[{shlex.quote(k)}]={shlex.quote(v)}" for k, v in mapping.items() if v)
    return f"{name}=({pairs})"


_BASH_FUNCTION = r"""
_windvane() {
    local cur="${COMP_WORDS[COMP_CWORD]}" prev="${COMP_WORDS[COMP_CWORD-1]}" cmd=windvane w i
    for ((i = 1; i < COMP_CWORD; i++)); do
        w="${COMP_WORDS[i]}"
        if [[ "$w" == -* ]]; then
            [[ " ${_windvane_takes[$cmd]} " == *" $w "* ]] && i=$((i + 1))
            continue
        fi
        [[ " ${_windvane_subs[$cmd]} " == *" $w "* ]] && cmd="$cmd $w"
    done
    if [[ "$prev" == -* && -n "${_windvane_choices[$cmd|$prev]}" ]]; then
        COMPREPLY=($(compgen -W "${_windvane_choices[$cmd|$prev]}" -- "$cur"))
    elif [[ "$prev" == -* && " ${_windvane_takes[$cmd]} " == *" $prev "* ]]; then
        COMPREPLY=($(compgen -f -- "$cur"))
    elif [[ "$cur" == -* ]]; then
        COMPREPLY=($(compgen -W "${_windvane_opts[$cmd]}" -- "$cur"))
    else
        COMPREPLY=($(compgen -W "${_windvane_subs[$cmd]} ${_windvane_positional[$cmd]}" -- "$cur"))
    fi
}
complete -F _windvane windvane
"""

_ZSH_FUNCTION = r"""
_windvane() {
    local cmd=windvane w i cur=${words[CURRENT]} prev=${words[CURRENT-1]}
    for (( i = 2; i < CURRENT; i++ )); do
        w=${words[i]}
        if [[ $w == -* ]]; then
            [[ " ${_windvane_takes[$cmd]} " == *" $w "* ]] && (( i++ ))
            continue
        fi
        [[ " ${_windvane_subs[$cmd]} " == *" $w "* ]] && cmd="$cmd $w"
    done
    if [[ $prev == -* && -n ${_windvane_choices[$cmd|$prev]} ]]; then
        compadd -- ${=_windvane_choices[$cmd|$prev]}
    elif [[ $prev == -* && " ${_windvane_takes[$cmd]} " == *" $prev "* ]]; then
        _files
    elif [[ $cur == -* ]]; then
        compadd -- ${=_windvane_opts[$cmd]}
    else
        compadd -- ${=_windvane_subs[$cmd]} ${=_windvane_positional[$cmd]}
    fi
}
if [[ ${zsh_eval_context[-1]} == loadautofunc ]]; then
    _windvane "$@"
else
    compdef _windvane windvane
fi
"""

_FISH_FUNCTIONS = r"""
function __windvane_cmd
    set -l tokens (commandline -opc)
    set -l cmd windvane
    set -l skip 0
    for w in $tokens[2..-1]
        if test $skip -eq 1
            set skip 0
            continue
        end
        if string match -q -- '-*' $w
            if contains -- $w (string split ' ' -- (__windvane_lookup takes "$cmd"))
                set skip 1
            end
            continue
        end
        if contains -- $w (string split ' ' -- (__windvane_lookup subs "$cmd"))
            set cmd "$cmd $w"
        end
    end
    echo $cmd
end

function __windvane_complete
    set -l cmd (__windvane_cmd)
    set -l prev (commandline -opc)[-1]
    set -l cur (commandline -ct)
    set -l choices (__windvane_lookup choices "$cmd|$prev")
    set -l takes (string split ' ' -- (__windvane_lookup takes "$cmd"))
    if string match -q -- '-*' $prev; and test -n "$choices"
        string split ' ' -- $choices
    else if string match -q -- '-*' $prev; and contains -- $prev $takes
        __fish_complete_path $cur
    else if string match -q -- '-*' $cur
        string split ' ' -- (__windvane_lookup opts "$cmd")
    else
        string split ' ' -- (__windvane_lookup subs "$cmd") (__windvane_lookup positional "$cmd")
    end
end

complete -c windvane -f -a '(__windvane_complete)'
"""


def bash_script(parser: argparse.ArgumentParser) -> str:
    table = _table(parser)
    arrays = [
        f"declare -gA {_assoc(f'_windvane_{name}', getattr(table, name))}"
        for name in ("subs", "opts", "takes", "positional", "choices")
    ]
    return (
        "# windvane completion for bash (generated by 'windvane completion bash')\n"
        + "\n".join(arrays)
        + _BASH_FUNCTION
    )


def zsh_script(parser: argparse.ArgumentParser) -> str:
    table = _table(parser)
    arrays = [
        f"typeset -gA {_assoc(f'_windvane_{name}', getattr(table, name))}"
        for name in ("subs", "opts", "takes", "positional", "choices")
    ]
    head = "#compdef windvane\n# windvane completion for zsh (generated by 'windvane completion zsh')\n"
    return head + "\n".join(arrays) + _ZSH_FUNCTION


def fish_script(parser: argparse.ArgumentParser) -> str:
    table = _table(parser)
    lines = [
        "# windvane completion for fish (generated by 'windvane completion fish')",
        "function __windvane_lookup",
    ]
    lines.append('    switch "$argv[1]:$argv[2]"')
    for name in ("subs", "opts", "takes", "positional", "choices"):
        for key, value in getattr(table, name).items():
            if value:
                lines.append(f"        case {shlex.quote(f'{name}:{key}')}")
                lines.append(f"            echo {shlex.quote(value)}")
    lines += ["    end", "end"]
    return "\n".join(lines) + "\n" + _FISH_FUNCTIONS


_SCRIPTS = {"bash": bash_script, "zsh": zsh_script, "fish": fish_script}


def completion(cli: Cli, args: argparse.Namespace) -> int:
    cli.out.stdout.write(_SCRIPTS[args.shell](build_parser()))
    cli.out.stdout.flush()
    return EXIT_OK
