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
from collections.abc import Iterable
from pathlib import PurePosixPath

from console.playbooks.args import Input, input_ref, is_templated

Finding = tuple[int, str]

SHELLS = {"sh", "bash", "zsh", "dash", "ksh", "mksh", "ash", "fish", "csh", "tcsh", "yash"}
_SHELL = {"code": {"-c", "--command"}, "value": {"-o", "+o", "-O", "+O", "--rcfile", "--init-file"}}
_NODE = {
    "code": {"-e", "--eval", "-p", "--print"},
    "value": {"-r", "--require", "--import", "--loader", "--experimental-loader"},
}
# interpreter -> inline-code flags (their value and everything after is code), options taking
# a value, and options naming the module/program it runs
INTERPRETERS: dict[str, dict[str, set[str]]] = {
    **{shell: _SHELL for shell in SHELLS},
    "python": {"code": {"-c"}, "value": {"-W", "-X", "--check-hash-based-pycs"}, "module": {"-m"}},
    "pypy": {"code": {"-c"}, "value": {"-W", "-X"}, "module": {"-m"}},
    "perl": {"code": {"-e", "-E"}, "value": {"-I", "-M", "-m"}},
    "ruby": {"code": {"-e"}, "value": {"-I", "-r", "-C"}},
    "node": _NODE,
    "nodejs": _NODE,
    "bun": {"code": {"-e", "--eval", "-p", "--print"}},
    "deno": {"code": {"eval"}},
    "php": {"code": {"-r"}, "value": {"-c", "-d", "-z"}},
    "lua": {"code": {"-e"}, "value": {"-l"}},
    "Rscript": {"code": {"-e"}},
    "tclsh": {"code": {"-c"}},
    "pwsh": {"code": {"-c", "-command", "-Command"}},
    "osascript": {"code": {"-e"}},
    # the first operand is the program unless it comes from a file (-f) or a flag (-e)
    "awk": {"code": set(), "value": {"-F", "-v"}, "file": {"-f"}},
    "sed": {"code": {"-e", "--expression"}, "value": set(), "file": {"-f", "--file"}},
}
for _alias in ("gawk", "mawk", "nawk", "busybox-awk"):
    INTERPRETERS[_alias] = INTERPRETERS["awk"]
OPERAND_IS_PROGRAM = {"awk", "gawk", "mawk", "nawk", "sed"}

# programs that run their arguments as a command string
COMMAND_STRING = {
    "xargs": "builds command lines from its input",
    "watch": "runs its arguments through `sh -c`",
    "su": "runs `-c` through a shell",
    "runuser": "runs `-c` through a shell",
    "script": "runs `-c` through a shell",
    "eval": "runs its arguments as code",
}
# wrapper -> options taking a value; after its options (and operands) comes the program it runs
WRAPPERS: dict[str, set[str]] = {
    "sudo": {
        "-u",
        "-g",
        "-C",
        "-D",
        "-h",
        "-p",
        "-r",
        "-t",
        "-T",
        "-U",
        "--user",
        "--group",
        "--chdir",
        "--prompt",
        "--role",
        "--type",
        "--host",
        "--close-from",
        "--command-timeout",
        "--other-user",
    },
    "doas": {"-u", "-C"},
    "nice": {"-n", "--adjustment"},
    "ionice": {"-c", "-n", "--class", "--classdata"},
    "timeout": {"-s", "-k", "--signal", "--kill-after"},
    "nohup": set(),
    "setsid": set(),
    "time": {"-f", "-o", "--format", "--output"},
    "command": set(),
    "exec": {"-a"},
    "stdbuf": {"-i", "-o", "-e", "--input", "--output", "--error"},
    "chroot": {"--userspec", "--groups"},
    "env": {"-u", "-C", "--unset", "--chdir"},
    "flock": {"-w", "-E", "--timeout", "--conflict-exit-code"},
    "taskset": set(),
    "chrt": set(),
    "unbuffer": set(),
    "nsenter": {"-t", "--target"},
    "unshare": set(),
    "busybox": set(),
}
WRAPPER_OPERANDS = {"timeout": 1, "chroot": 1, "flock": 1, "taskset": 1, "chrt": 1}
SHELL_RUNNING_FLAGS = {
    "sudo": {"-s", "-i", "--shell", "--login"},
    "doas": {"-s"},
    "env": {"-S", "--split-string"},
    "flock": {"-c", "--command"},
}
SSH = {"ssh", "mosh", "rsh", "autossh"}
SSH_VALUE_OPTIONS = set("BbcDEeFIiJLlmOoPpQRSWw")
SSH_CODE_OPTIONS = {"-o", "-F", "-J", "-E"}
# program -> options whose value can run commands or reads options from a file
CODE_OPTIONS: dict[str, set[str]] = {
    "git": {"-c", "--config-env", "--exec-path"},
    "curl": {"-K", "--config"},
    "wget": {"-e", "--execute", "--config"},
    "rsync": {"-e", "--rsh", "--rsync-path"},
    "tar": {
        "-I",
        "--use-compress-program",
        "--to-command",
        "--checkpoint-action",
        "--info-script",
        "--new-volume-script",
        "-F",
    },
    "find": {"-exec", "-execdir", "-ok", "-okdir"},
    "scp": {"-o", "-F", "-S"},
}
EXEC_TOOLS = {
    "kubectl": {
        "-c",
        "--container",
        "-n",
        "--namespace",
        "--context",
        "--kubeconfig",
        "-f",
        "--filename",
        "--pod-running-timeout",
    },
    "oc": {"-c", "--container", "-n", "--namespace"},
    "docker": {"-e", "--env", "--env-file", "-u", "--user", "-w", "--workdir", "--detach-keys"},
    "podman": {"-e", "--env", "--env-file", "-u", "--user", "-w", "--workdir", "--detach-keys"},
    "nerdctl": {"-e", "--env", "-u", "--user", "-w", "--workdir"},
}


def program_name(element: str) -> str:
    """`/usr/bin/python3.11` -> `python`: the basename without a version suffix."""
    name = PurePosixPath(element).name
    return re.sub(r"(?<=[a-zA-Z])[0-9][0-9.]*$", "", name)


def _is_option(element: str, name: str) -> bool:
    return (element.startswith("-") and element != "-") or (name in SHELLS and element.startswith("+"))


def _flag_in(element: str, flags: set[str]) -> bool:
    """`element` is one of `flags`, `--flag=value`, or a short cluster holding one (-ec, -ne)."""
    if element in flags or any(element.startswith(f + "=") for f in flags if f[:2] == "--"):
        return True
    letters = {f[1] for f in flags if re.fullmatch(r"-[A-Za-z]", f)}
    cluster = re.match(r"-([A-Za-z]+)", element)
    return bool(cluster and not element.startswith("--") and letters & set(cluster[1]))


def _templated_from(argv: list[str], start: int, why: str) -> list[Finding]:
    return [(i, why) for i in range(start, len(argv)) if is_templated(argv[i])]


def _interpreter(argv: list[str], at: int, name: str) -> list[Finding]:
    """An interpreter at `at`: inline code after a code flag, or a templated script operand."""
    spec = INTERPRETERS[name]
    i, from_file = at + 1, False
    while i < len(argv) and _is_option(argv[i], name) and argv[i] != "--":
        element = argv[i]
        if _flag_in(element, spec["code"]):
            return _inline_code(argv, i, name)
        if element in spec.get("module", set()):
            return _operand(argv, i + 1, f"the module `{name} {element}` runs")
        from_file = from_file or element in spec.get("file", set())
        i += 2 if element in spec.get("value", set()) | spec.get("file", set()) else 1
    i += 1 if i < len(argv) and argv[i] == "--" else 0
    if i < len(argv) and argv[i] in spec["code"]:  # a verb such as `deno eval`
        return _inline_code(argv, i, name)
    if from_file:
        return []
    return _operand(argv, i, f"the {'program' if name in OPERAND_IS_PROGRAM else 'script'} `{name}` runs")


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
        element = argv[i]
        takes_value = len(element) == 2 and element[1] in SSH_VALUE_OPTIONS
        if takes_value and element in SSH_CODE_OPTIONS and i + 1 < len(argv) and is_templated(argv[i + 1]):
            return [
                (
                    i + 1,
                    f"puts a templated value into `{name} {element}`, which can run "
                    "commands: write the option in the playbook",
                )
            ]
        i += 2 if takes_value else 1
    i += 1 if i < len(argv) and argv[i] == "--" else 0
    return _templated_from(
        argv,
        i + 1,
        f"puts a templated value into the remote command of "
        f"`{name}`, which the remote shell runs: run a fixed "
        "remote command and pass no outside values",
    )


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
    shell_flags = SHELL_RUNNING_FLAGS.get(name, set())
    for i in range(at + 1, len(argv)):
        if not argv[i].startswith("-") or argv[i] == "--":
            break
        if _flag_in(argv[i], shell_flags):
            return _templated_from(
                argv,
                i,
                f"puts a templated value after `{name} {argv[i]}`, "
                "which runs it through a shell: call the program "
                "directly",
            )
    i = _skip_options(argv, at, WRAPPERS[name])
    if name == "env":
        while i < len(argv) and "=" in argv[i] and not is_templated(argv[i]):
            i += 1
    i += WRAPPER_OPERANDS.get(name, 0)
    return _program(argv, i) if i < len(argv) else []


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
        element = argv[i]
        if element in options and i + 1 < len(argv) and is_templated(argv[i + 1]):
            found.append(
                (
                    i + 1,
                    f"puts a templated value into `{name} {element}`, which runs "
                    "commands or reads options: write it in the playbook",
                )
            )
        if name == "find" and element in options and i + 1 < len(argv):
            found += _program(argv, i + 1)
    return found


def _program(argv: list[str], at: int) -> list[Finding]:
    """Findings for the program at `at` and whatever it runs in turn."""
    if is_templated(argv[at]):
        where = "the program (argv[0])" if at == 0 else "the program another one runs"
        return [(at, f"makes a templated value {where}: write the program in the playbook")]
    name = program_name(argv[at])
    if name in WRAPPERS:
        return _wrapper(argv, at, name)
    if name in COMMAND_STRING:
        return _templated_from(
            argv,
            at + 1,
            f"puts a templated value after `{name}`, which {COMMAND_STRING[name]}: call the program directly",
        )
    if name in SSH:
        return _ssh(argv, at, name)
    if name in INTERPRETERS:
        return _interpreter(argv, at, name)
    if name in EXEC_TOOLS:
        return _exec_tool(argv, at, name)
    return _code_options(argv, at, name)


def _anywhere(argv: list[str]) -> list[Finding]:
    """An interpreter with an inline-code flag anywhere (behind a wrapper we do not know)."""
    found: list[Finding] = []
    for at, element in enumerate(argv[1:], start=1):
        name = program_name(element)
        if name in INTERPRETERS and name not in OPERAND_IS_PROGRAM and not is_templated(element):
            found += [f for f in _interpreter(argv, at, name) if "inline code" in f[1]]
    return found


def _typed(argv: list[str], inputs: dict[str, Input]) -> list[Finding]:
    found: list[Finding] = []
    for i, element in enumerate(argv):
        if not is_templated(element):
            continue
        name = input_ref(element)
        if name is None:
            found.append(
                (
                    i,
                    f"{element!r} is templated but not a typed input: make it its own "
                    'element "{{ inputs.NAME }}" and declare NAME under `inputs` '
                    "with a type (url, label, int, duration, choice)",
                )
            )
        elif name not in inputs:
            found.append(
                (
                    i,
                    f"uses inputs.{name}, which this step does not declare under "
                    f"`inputs` (declared: {', '.join(inputs) or 'none'})",
                )
            )
    return found


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
