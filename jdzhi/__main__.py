"""`python -m jdzhi` runs the CLI."""

from jdzhi.cli import main

main()
