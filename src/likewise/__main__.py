"""`python -m likewise` runs the command line."""

from likewise.cli import main

if __name__ == "__main__":  # importing this module (e.g. by name from a file) must not run the CLI
    main()
