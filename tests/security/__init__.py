"""Security checks: permissions, validated names in paths (issue 9 point 4)."""
