"""Builds the Bukharin study guide: Markdown chapters to PDF and EPUB."""
