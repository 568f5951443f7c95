"""Entry point of the PyInstaller bundle: the same as the ``skintrace`` command.

Background retraining starts ``sys.executable -m app train ...`` (core.assist.retrain); in a
frozen bundle ``sys.executable`` is this launcher, so ``-m app`` is accepted and dropped.
"""

import sys

from app.launch import main

if __name__ == "__main__":
    argv = sys.argv[1:]
    if argv[:2] == ["-m", "app"]:
        argv = argv[2:]
    sys.exit(main(argv))
