"""The CLI's command groups: each module parses options, calls one library function, renders."""
