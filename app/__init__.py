"""SkinTrace front ends: the Qt GUI (app.gui) and the command line (app.cli)."""
