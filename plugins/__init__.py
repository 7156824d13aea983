"""Built-in region plugins: one package per branch centre (see core.plugins.BUILTIN_REGIONS)."""
