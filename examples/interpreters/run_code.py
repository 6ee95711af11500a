"""Run code in another interpreter: exec, call, and an error that stays inside."""

from __future__ import annotations

import operator

from treadle import interpreters

interp = interpreters.create()
try:
    interp.prepare_main(greeting="hello")
    interp.exec("message = greeting + ', from interpreter'; print(message)")
    print("call:", interp.call(operator.mul, 6, 7))
    try:
        interp.exec("1 / 0")
    except interpreters.ExecutionFailed as failed:
        print("failed inside:", failed.excinfo.formatted)
finally:
    interp.close()
