"""Argv safety of command steps: where a templated value could become a program or code.

Used by `oncall playbook lint` and again by the runner just before a step runs (the file may
have changed since it was linted). Each finding is (argv index, what is wrong and what to do).

Rules: the program (argv[0], or the program a wrapper such as `sudo`, `env`, `timeout` runs)
is never templated; a templated element is exactly `{{ inputs.NAME }}` of a declared input;
no templated element follows an interpreter's inline-code flag (`sh -c`, `python -c`,
`perl -e`, …), `xargs`, the remote command of `ssh`, or another command-string runner, and
none is the value of an option that runs commands (`ssh -o`, `git -c`, `curl -K`, …).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Container, Iterable
from pathlib import PurePosixPath

from console.playbooks.args import Input, input_ref, is_templated
from console.playbooks.programs import (
    CODE_OPTIONS,
    COMMAND_STRING,
    EXEC_TOOLS,
    INTERPRETERS,
    OPERAND_IS_PROGRAM,
    SHELL_RUNNING_FLAGS,
    SHELLS,
    SSH,
    SSH_CODE_OPTIONS,
    SSH_VALUE_OPTIONS,
    WRAPPER_OPERANDS,
    WRAPPERS,
)

Finding = tuple[int, str]


def program_name(element: str) -> str:
    """`/usr/bin/python3.11` -> `python`: the basename without a version suffix."""
    name = PurePosixPath(element).name
    return re.sub(r"(?<=[a-zA-Z])[0-9][0-9.]*$", "", name)


def _is_option(element: str, name: str) -> bool:
    return (element.startswith("-") and element != "-") or (name in SHELLS and element.startswith("+"))


def _flag_in(element: str, flags: set[str]) -> bool:
    """`element` is one of `flags`, `--flag=value`, or a short cluster holding one (-ec, -ne)."""
    return _long_flag_in(element, flags) or _short_flag_in(element, flags)


def _long_flag_in(element: str, flags: set[str]) -> bool:
    return element in flags or any(element.startswith(f + "=") for f in flags if f[:2] == "--")


def _short_flag_in(element: str, flags: set[str]) -> bool:
    letters = {f[1] for f in flags if re.fullmatch(r"-[A-Za-z]", f)}
    cluster = re.match(r"-([A-Za-z]+)", element)
    return bool(cluster and not element.startswith("--") and letters & set(cluster[1]))


def _past_dashes(argv: list[str], i: int) -> int:
    """Past a `--` at `i`, if there is one."""
    return i + 1 if i < len(argv) and argv[i] == "--" else i


def _templated_from(argv: list[str], start: int, why: str) -> list[Finding]:
    return [(i, why) for i in range(start, len(argv)) if is_templated(argv[i])]


def _interpreter(argv: list[str], at: int, name: str) -> list[Finding]:
    """An interpreter at `at`: inline code after a code flag, or a templated script operand."""
    spec = INTERPRETERS[name]
    found, i, from_file = _interpreter_options(argv, at, name, spec)
    if found is None:
        found = _interpreter_operand(argv, i, name, spec, from_file)
    return found


def _interpreter_operand(
    argv: list[str], i: int, name: str, spec: dict[str, set[str]], from_file: bool
) -> list[Finding]:
    """After the options: a code verb, else the script (or program) operand unless a file is."""
    if i < len(argv) and argv[i] in spec["code"]:  # a verb such as `deno eval`
        return _inline_code(argv, i, name)
    if from_file:
        return []
    return _operand(argv, i, f"the {'program' if name in OPERAND_IS_PROGRAM else 'script'} `{name}` runs")


def _interpreter_options(
    argv: list[str], at: int, name: str, spec: dict[str, set[str]]
) -> tuple[list[Finding] | None, int, bool]:
    """The interpreter's options: the findings of a code or module flag (the scan stops there),
    else where its operands start and whether the program comes from a file."""
    i, from_file = at + 1, False
    while i < len(argv) and _is_option(argv[i], name) and argv[i] != "--":
        found = _flag_findings(argv, i, name, spec)
        if found is not None:
            return found, i, from_file
        from_file = from_file or argv[i] in spec.get("file", set())
        i += 2 if argv[i] in spec.get("value", set()) | spec.get("file", set()) else 1
    return None, _past_dashes(argv, i), from_file


def _flag_findings(argv: list[str], i: int, name: str, spec: dict[str, set[str]]) -> list[Finding] | None:
    """After an inline-code flag everything is code; after `-m` the module is the program."""
    if _flag_in(argv[i], spec["code"]):
        return _inline_code(argv, i, name)
    if argv[i] in spec.get("module", set()):
        return _operand(argv, i + 1, f"the module `{name} {argv[i]}` runs")
    return None


def _inline_code(argv: list[str], at: int, name: str) -> list[Finding]:
    return _templated_from(
        argv,
        at,
        f"puts a templated value into `{name} {argv[at][:20]}` "
        "inline code: run a script or program that takes the "
        "value as its own argument",
    )


def _operand(argv: list[str], at: int, what: str) -> list[Finding]:
    if at < len(argv) and is_templated(argv[at]):
        return [(at, f"makes a templated value {what}: write it in the playbook")]
    return []


def _ssh(argv: list[str], at: int, name: str) -> list[Finding]:
    """`ssh [options] HOST CMD…`: command-running option values and the remote command."""
    i = at + 1
    while i < len(argv) and argv[i].startswith("-") and argv[i] != "--":
        if not _ssh_takes_value(argv[i]):
            i += 1
            continue
        found = _ssh_option_value(argv, i, name)
        if found:
            return found
        i += 2
    return _templated_from(
        argv,
        _past_dashes(argv, i) + 1,
        f"puts a templated value into the remote command of "
        f"`{name}`, which the remote shell runs: run a fixed "
        "remote command and pass no outside values",
    )


def _ssh_takes_value(element: str) -> bool:
    return len(element) == 2 and element[1] in SSH_VALUE_OPTIONS


def _ssh_option_value(argv: list[str], i: int, name: str) -> list[Finding]:
    """A templated value of an option that can run commands (`-o ProxyCommand=…`)."""
    if argv[i] in SSH_CODE_OPTIONS and i + 1 < len(argv) and is_templated(argv[i + 1]):
        return [
            (
                i + 1,
                f"puts a templated value into `{name} {argv[i]}`, which can run "
                "commands: write the option in the playbook",
            )
        ]
    return []


def _skip_options(argv: list[str], at: int, with_value: set[str]) -> int:
    """Index of the first operand after `argv[at]`'s options (past a `--`)."""
    i = at + 1
    while i < len(argv) and argv[i].startswith("-") and argv[i] != "-":
        if argv[i] == "--":
            return i + 1
        i += 2 if argv[i] in with_value else 1
    return i


def _wrapper(argv: list[str], at: int, name: str) -> list[Finding]:
    """`sudo`, `env`, `timeout`, …: a shell-running flag, else the program it runs."""
    found = _shell_flag(argv, at, name)
    if found is not None:
        return found
    i = _skip_options(argv, at, WRAPPERS[name])
    if name == "env":
        i = _skip_assignments(argv, i)
    i += WRAPPER_OPERANDS.get(name, 0)
    return _program(argv, i) if i < len(argv) else []


def _shell_flag(argv: list[str], at: int, name: str) -> list[Finding] | None:
    """The findings after a wrapper's flag that runs a shell (`sudo -s`), if it has one."""
    shell_flags = SHELL_RUNNING_FLAGS.get(name, set())
    for i in range(at + 1, len(argv)):
        if not argv[i].startswith("-") or argv[i] == "--":
            return None
        if _flag_in(argv[i], shell_flags):
            return _templated_from(
                argv,
                i,
                f"puts a templated value after `{name} {argv[i]}`, "
                "which runs it through a shell: call the program "
                "directly",
            )
    return None


def _skip_assignments(argv: list[str], i: int) -> int:
    """Past `env`'s literal NAME=value operands."""
    while i < len(argv) and "=" in argv[i] and not is_templated(argv[i]):
        i += 1
    return i


def _exec_tool(argv: list[str], at: int, name: str) -> list[Finding]:
    """`kubectl exec POD -- CMD…`, `docker exec CONTAINER CMD…`: CMD is checked as a program."""
    rest = argv[at + 1 :]
    if "exec" not in rest:
        return []
    verb = at + 1 + rest.index("exec")
    if "--" in argv[verb:]:
        target = argv.index("--", verb) + 1
    elif name in ("kubectl", "oc"):
        return []
    else:
        target = _skip_options(argv, verb, EXEC_TOOLS[name]) + 1
    return _program(argv, target) if target < len(argv) else []


def _code_options(argv: list[str], at: int, name: str) -> list[Finding]:
    """Values of options that run commands or read options from a file (`git -c`, `curl -K`)."""
    found: list[Finding] = []
    options = CODE_OPTIONS.get(name, set())
    for i in range(at + 1, len(argv)):
        if argv[i] not in options or i + 1 >= len(argv):
            continue
        found += _code_option_value(argv, i, name)
        if name == "find":
            found += _program(argv, i + 1)
    return found


def _code_option_value(argv: list[str], i: int, name: str) -> list[Finding]:
    if not is_templated(argv[i + 1]):
        return []
    return [
        (
            i + 1,
            f"puts a templated value into `{name} {argv[i]}`, which runs "
            "commands or reads options: write it in the playbook",
        )
    ]


def _program(argv: list[str], at: int) -> list[Finding]:
    """Findings for the program at `at` and whatever it runs in turn."""
    if is_templated(argv[at]):
        where = "the program (argv[0])" if at == 0 else "the program another one runs"
        return [(at, f"makes a templated value {where}: write the program in the playbook")]
    name = program_name(argv[at])
    for programs, check in _PROGRAM_KINDS:
        if name in programs:
            return check(argv, at, name)
    return _code_options(argv, at, name)


def _command_string(argv: list[str], at: int, name: str) -> list[Finding]:
    return _templated_from(
        argv,
        at + 1,
        f"puts a templated value after `{name}`, which {COMMAND_STRING[name]}: call the program directly",
    )


def _anywhere(argv: list[str]) -> list[Finding]:
    """An interpreter with an inline-code flag anywhere (behind a wrapper we do not know)."""
    found: list[Finding] = []
    for at, element in enumerate(argv[1:], start=1):
        name = program_name(element)
        if _runs_inline_code(name, element):
            found += [f for f in _interpreter(argv, at, name) if "inline code" in f[1]]
    return found


def _runs_inline_code(name: str, element: str) -> bool:
    return name in INTERPRETERS and name not in OPERAND_IS_PROGRAM and not is_templated(element)


def _typed(argv: list[str], inputs: dict[str, Input]) -> list[Finding]:
    found = [(i, _untyped(element, inputs)) for i, element in enumerate(argv) if is_templated(element)]
    return [(i, why) for i, why in found if why]


def _untyped(element: str, inputs: dict[str, Input]) -> str | None:
    """Why a templated element is not exactly a declared input, or None if it is."""
    name = input_ref(element)
    if name is None:
        return (
            f"{element!r} is templated but not a typed input: make it its own "
            'element "{{ inputs.NAME }}" and declare NAME under `inputs` '
            "with a type (url, label, int, duration, choice)"
        )
    if name not in inputs:
        return (
            f"uses inputs.{name}, which this step does not declare under "
            f"`inputs` (declared: {', '.join(inputs) or 'none'})"
        )
    return None


def argv_findings(argv: list[str], inputs: dict[str, Input]) -> list[Finding]:
    """Every unsafe place in a command step's argv, one finding per element, in argv order."""
    if not argv:
        return []
    found: dict[int, str] = {}
    for index, why in _program(argv, 0) + _anywhere(argv) + _typed(argv, inputs):
        found.setdefault(index, why)
    return sorted(found.items())


def unused_inputs(argv: Iterable[str], inputs: dict[str, Input]) -> list[str]:
    """Inputs a step declares but no argv element uses."""
    used = {input_ref(a) for a in argv}
    return [name for name in inputs if name not in used]


# what a program runs, by the kind of program it is (checked in this order)
_PROGRAM_KINDS: tuple[tuple[Container[str], Callable[[list[str], int, str], list[Finding]]], ...] = (
    (WRAPPERS, _wrapper),
    (COMMAND_STRING, _command_string),
    (SSH, _ssh),
    (INTERPRETERS, _interpreter),
    (EXEC_TOOLS, _exec_tool),
)
