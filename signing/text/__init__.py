"""Declaration text: canonical form, safe Markdown rendering and redlines."""
