"""Design-copy screening of submitted images against registered works."""
