"""The model corner: the only package that imports torch."""
