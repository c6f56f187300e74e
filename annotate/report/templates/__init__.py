"""Jinja templates of the HTML report (a package so the templates ship with the wheel)."""
