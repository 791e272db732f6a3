"""The README's code, as files: type-checked, and compared with README.md by a test."""
