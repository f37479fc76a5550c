"""The analyst report: one self-contained HTML file (inline SVG, no scripts, no network) drawn from
either warehouse.

``data`` reads the report's queries (``schemas/queries/report_*.sql``) and aggregates them into
what is shown; ``charts`` draws SVG in Python; ``page`` lays out the HTML. ``pipelines/commands/
report.py`` is the command that calls them.
"""
