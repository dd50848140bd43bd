"""``windvane completion bash|zsh|fish``: shell completion scripts generated from the parser.

Why generated scripts and not argcomplete: argcomplete runs ``windvane``
itself on every Tab (a Python start-up per key press), needs a marker in the
entry script and global activation, and is one more dependency. The
command tree is static, so a script holding it completes instantly, needs
nothing installed, and cannot drift: it is printed from the parser of the
running version (:mod:`windvane.cli.parser.walk`). It completes command
names, option names, option or positional values that have fixed choices
(``-o table|json|plain``), and DAG ids: where a command's first positional
argument is a DAG id (``dags trigger <Tab>``), the script asks ``windvane
[--home H] dags list -o plain`` (the ``--home`` of the line being completed),
which starts without SQLAlchemy (:mod:`windvane.cli.dag_lists`) and so answers
within a Tab. Other option values complete as file names. The three scripts
share one table: per command path, its sub-commands, options, options taking a
value, choices, and whether its first positional is a DAG id.
``tests/cli/test_completion.py`` runs each script in its shell.
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
    #: ``"windvane dags trigger"`` -> ``"1"``: its first positional argument is a DAG id.
    dags: dict[str, str] = field(default_factory=dict)


#: The ``dest`` of a positional argument that names a DAG.
DAG_ID_DEST = "dag_id"
_NAMES = ("subs", "opts", "takes", "positional", "choices", "dags")


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
        positionals = [a for a in command.arguments if not a.option_strings]
        if positionals and positionals[0].dest == DAG_ID_DEST:
            table.dags[key] = "1"
    return table


def _assoc(name: str, mapping: dict[str, str]) -> str:
    pairs = " ".join(f"[{shlex.quote(k)}]={shlex.quote(v)}" for k, v in mapping.items() if v)
    return f"{name}=({pairs})"


_BASH_FUNCTION = r"""
_windvane() {
    local cur="${COMP_WORDS[COMP_CWORD]}" prev="${COMP_WORDS[COMP_CWORD-1]}" cmd=windvane w i npos=0
    local -a home=()
    for ((i = 1; i < COMP_CWORD; i++)); do
        w="${COMP_WORDS[i]}"
        if [[ "$w" == -* ]]; then
            [[ "$w" == --home=* ]] && home=("$w")
            [[ "$w" == --home ]] && home=(--home "${COMP_WORDS[i+1]}")
            [[ " ${_windvane_takes[$cmd]} " == *" $w "* ]] && i=$((i + 1))
            continue
        fi
        if [[ " ${_windvane_subs[$cmd]} " == *" $w "* ]]; then
            cmd="$cmd $w"
        else
            npos=$((npos + 1))
        fi
    done
    if [[ "$prev" == -* && -n "${_windvane_choices[$cmd|$prev]}" ]]; then
        COMPREPLY=($(compgen -W "${_windvane_choices[$cmd|$prev]}" -- "$cur"))
    elif [[ "$prev" == -* && " ${_windvane_takes[$cmd]} " == *" $prev "* ]]; then
        COMPREPLY=($(compgen -f -- "$cur"))
    elif [[ "$cur" == -* ]]; then
        COMPREPLY=($(compgen -W "${_windvane_opts[$cmd]}" -- "$cur"))
    elif [[ -n "${_windvane_dags[$cmd]}" && $npos -eq 0 ]]; then
        w=$("${COMP_WORDS[0]}" "${home[@]}" dags list -o plain 2>/dev/null | cut -f1)
        COMPREPLY=($(compgen -W "$w" -- "$cur"))
    else
        COMPREPLY=($(compgen -W "${_windvane_subs[$cmd]} ${_windvane_positional[$cmd]}" -- "$cur"))
    fi
}
complete -F _windvane windvane
"""

_ZSH_FUNCTION = r"""
_windvane() {
    local cmd=windvane w i npos=0 cur=${words[CURRENT]} prev=${words[CURRENT-1]}
    local -a home dag_ids
    for (( i = 2; i < CURRENT; i++ )); do
        w=${words[i]}
        if [[ $w == -* ]]; then
            [[ $w == --home=* ]] && home=($w)
            [[ $w == --home ]] && home=(--home ${words[i+1]})
            [[ " ${_windvane_takes[$cmd]} " == *" $w "* ]] && (( i++ ))
            continue
        fi
        if [[ " ${_windvane_subs[$cmd]} " == *" $w "* ]]; then
            cmd="$cmd $w"
        else
            (( npos++ ))
        fi
    done
    if [[ $prev == -* && -n ${_windvane_choices[$cmd|$prev]} ]]; then
        compadd -- ${=_windvane_choices[$cmd|$prev]}
    elif [[ $prev == -* && " ${_windvane_takes[$cmd]} " == *" $prev "* ]]; then
        _files
    elif [[ $cur == -* ]]; then
        compadd -- ${=_windvane_opts[$cmd]}
    elif [[ -n ${_windvane_dags[$cmd]} && $npos -eq 0 ]]; then
        dag_ids=(${(f)"$(${words[1]} $home dags list -o plain 2>/dev/null | cut -f1)"})
        compadd -- $dag_ids
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
# Prints the command path, the number of positional words after it, then the --home option given.
function __windvane_scan
    set -l tokens (commandline -opc)
    set -l cmd windvane
    set -l npos 0
    set -l home
    set -l skip 0
    for i in (seq 2 (count $tokens))
        set -l w $tokens[$i]
        if test $skip -eq 1
            set skip 0
            continue
        end
        if string match -q -- '-*' $w
            if string match -q -- '--home=*' $w
                set home $w
            else if test "$w" = --home; and test $i -lt (count $tokens)
                set home --home $tokens[(math $i + 1)]
            end
            if contains -- $w (string split ' ' -- (__windvane_lookup takes "$cmd"))
                set skip 1
            end
            continue
        end
        if contains -- $w (string split ' ' -- (__windvane_lookup subs "$cmd"))
            set cmd "$cmd $w"
        else
            set npos (math $npos + 1)
        end
    end
    echo $cmd
    echo $npos
    string join \n -- $home
end

function __windvane_complete
    set -l scan (__windvane_scan)
    set -l cmd $scan[1]
    set -l tokens (commandline -opc)
    set -l prev $tokens[-1]
    set -l cur (commandline -ct)
    set -l choices (__windvane_lookup choices "$cmd|$prev")
    set -l takes (string split ' ' -- (__windvane_lookup takes "$cmd"))
    if string match -q -- '-*' $prev; and test -n "$choices"
        string split ' ' -- $choices
    else if string match -q -- '-*' $prev; and contains -- $prev $takes
        __fish_complete_path $cur
    else if string match -q -- '-*' $cur
        string split ' ' -- (__windvane_lookup opts "$cmd")
    else if test -n "$(__windvane_lookup dags "$cmd")"; and test $scan[2] -eq 0
        $tokens[1] $scan[3..-1] dags list -o plain 2>/dev/null | string split -f 1 \t
    else
        string split ' ' -- (__windvane_lookup subs "$cmd") (__windvane_lookup positional "$cmd")
    end
end

complete -c windvane -f -a '(__windvane_complete)'
"""


def bash_script(parser: argparse.ArgumentParser) -> str:
    table = _table(parser)
    arrays = [f"declare -gA {_assoc(f'_windvane_{name}', getattr(table, name))}" for name in _NAMES]
    return (
        "# windvane completion for bash (generated by 'windvane completion bash')\n"
        + "\n".join(arrays)
        + _BASH_FUNCTION
    )


def zsh_script(parser: argparse.ArgumentParser) -> str:
    table = _table(parser)
    arrays = [f"typeset -gA {_assoc(f'_windvane_{name}', getattr(table, name))}" for name in _NAMES]
    head = "#compdef windvane\n# windvane completion for zsh (generated by 'windvane completion zsh')\n"
    return head + "\n".join(arrays) + _ZSH_FUNCTION


def fish_script(parser: argparse.ArgumentParser) -> str:
    table = _table(parser)
    lines = [
        "# windvane completion for fish (generated by 'windvane completion fish')",
        "function __windvane_lookup",
    ]
    lines.append('    switch "$argv[1]:$argv[2]"')
    for name in _NAMES:
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
