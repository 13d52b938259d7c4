"""`python -m jdzhi` runs the CLI."""

from jdzhi.cli import main

# the guard keeps worker processes (jdzhi.parallel), which import this module, from running it
if __name__ == "__main__":
    main()
