// Reverse shells: a shell whose input and output are wired to a network connection back to an
// attacker. The patterns are the one-liners and snippets such tools are built from.
rule reverse_shell_dev_tcp
{
    meta:
        description = "reverse shell through bash's /dev/tcp"
        severity = "critical"
        family = "reverse-shell"
    strings:
        $interactive = /(ba|z|k)?sh\s+-i\s+[>&]{1,2}\s*\/dev\/(tcp|udp)\/[^\/\s]{1,255}\/[0-9]{1,5}/
        $redirect = /\/dev\/(tcp|udp)\/[^\/\s]{1,255}\/[0-9]{1,5}\s+0>&1/
        $fd = /exec\s+[0-9]{1,3}<>\s*\/dev\/(tcp|udp)\/[^\/\s]{1,255}\/[0-9]{1,5}\s*;\s*((\/usr)?\/bin\/)?(ba|z)?sh\s+<&\s*[0-9]/
    condition:
        any of them
}

rule reverse_shell_netcat
{
    meta:
        description = "reverse shell through netcat"
        severity = "critical"
        family = "reverse-shell"
    strings:
        $exec = /\b(nc|ncat|netcat)(\.traditional|\.openbsd)?\s+(-[a-zA-Z]{1,4}\s+){0,4}-(e|c)\s+['"]?(\/usr)?\/bin\/(ba|z|da)?sh\b/
        $fifo = /mkfifo\s+\/tmp\/[^\s;|]{1,40}\s*;\s*(cat|tail\s+-f)\s+\/tmp\/[^\s|]{1,40}\s*\|\s*(\/bin\/)?(ba)?sh\s+-i/
        $fifo_rm = /rm\s+(-f\s+)?\/tmp\/f\s*;\s*mkfifo\s+\/tmp\/f/
    condition:
        any of them
}

rule reverse_shell_python
{
    meta:
        description = "reverse shell in Python (socket wired to a shell)"
        severity = "critical"
        family = "reverse-shell"
    strings:
        $socket = "socket.socket"
        $dup2 = /os\.dup2\(\s*[A-Za-z_][A-Za-z0-9_.]{0,40}\.fileno\(\)\s*,\s*[012]\s*\)/
        $shell = /(pty\.spawn|subprocess\.call|subprocess\.Popen|os\.system)\s*\(\s*\[?\s*['"](\/usr)?\/bin\/(ba|z)?sh/
    condition:
        $socket and #dup2 >= 2 and $shell
}

rule reverse_shell_perl
{
    meta:
        description = "reverse shell in Perl (socket wired to a shell)"
        severity = "critical"
        family = "reverse-shell"
    strings:
        $socket = "use Socket"
        $stdin = /open\s*\(\s*STDIN\s*,\s*['"]>&/
        $shell = /exec\s*\(?\s*['"](\/usr)?\/bin\/(ba)?sh\s+-i/
    condition:
        all of them
}

rule reverse_shell_php
{
    meta:
        description = "reverse shell in PHP (fsockopen wired to a shell)"
        severity = "critical"
        family = "reverse-shell"
    strings:
        $sock = /fsockopen\s*\(/
        $shell = /(exec|shell_exec|system|passthru|proc_open|popen)\s*\(\s*['"](\/usr)?\/bin\/(ba)?sh\s+-i\s*<&\s*[0-9]/
    condition:
        $sock and $shell
}

rule reverse_shell_socat
{
    meta:
        description = "reverse shell through socat"
        severity = "critical"
        family = "reverse-shell"
    strings:
        $exec = /socat\s+(-[a-zA-Z]{1,4}\s+){0,4}(tcp|tcp4|tcp6|openssl|ssl)[:-][^\s]{1,255}\s+exec:['"]?(\/usr)?(\/bin\/)?(ba|z)?sh/ nocase
    condition:
        $exec
}
