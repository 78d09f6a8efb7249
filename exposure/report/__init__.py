"""Writing results workbooks: tables, number formats, charts, atomic save."""
