"""The PySide6 annotation window."""
