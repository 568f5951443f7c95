"""The PySide6 annotation window.

Small widgets composed by :mod:`app.gui.main_window`. Widgets never write annotation
arrays: they call :class:`core.gt.document.AnnotationDocument` methods and listen to its
change notifications (bridged to the GUI thread by :mod:`app.gui.bridge`).
"""
