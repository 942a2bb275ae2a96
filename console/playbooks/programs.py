"""The programs the argv lint knows, and how each runs what it is given.

Interpreters and their inline-code flags, wrappers that run another program, programs that
run a command string, `ssh`, and the tools whose options can run commands (`console/playbooks/lint.py`
applies them).
"""

from __future__ import annotations

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
