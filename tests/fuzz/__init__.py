"""Property-based fuzzing of every input hdra parses (issue 9 point 3)."""
