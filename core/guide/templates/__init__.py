"""Templates `eportcard new-region` fills in (string.Template, $-placeholders)."""
