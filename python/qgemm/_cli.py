"""The `qgemm` command of an installed wheel: runs the program bundled in the package
(qgemm/bin/qgemm, built with the library), which finds the shipped databases beside itself."""
import os
import sys


def bundled_program():
    """Path of the bundled qgemm program, or None (a source install of the package has none)."""
    exe = os.path.join(os.path.dirname(os.path.abspath(__file__)), "bin", "qgemm")
    return exe if os.access(exe, os.X_OK) else None


def main():
    exe = bundled_program()
    if exe is None:
        sys.stderr.write("qgemm: this installation of the Python package has no bundled qgemm "
                         "program (installed from source): install the wheel built by "
                         "scripts/build_wheel.sh, or build the command with CMake\n")
        return 2
    os.execv(exe, [exe] + sys.argv[1:])


if __name__ == "__main__":
    sys.exit(main())
