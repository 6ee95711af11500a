"""Connect two processes with a pipe and read the result, as with the stdlib's Popen."""

from __future__ import annotations

from treadle import subprocess

with (
    subprocess.Popen(["printf", "pear\\napple\\nfig\\n"], stdout=subprocess.PIPE) as producer,
    subprocess.Popen(
        ["sort"], stdin=producer.stdout, stdout=subprocess.PIPE, text=True
    ) as consumer,
):
    assert producer.stdout is not None
    producer.stdout.close()  # sort sees EOF when printf exits
    out, _ = consumer.communicate(timeout=30)

print("sorted:", out.split())
print("exit codes:", producer.returncode, consumer.returncode)
print(subprocess.check_output(["echo", "check_output works too"], text=True), end="")
