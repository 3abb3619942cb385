"""The dashboard: server-rendered, self-contained HTML pages about runs and alerts.

- `data`: what each page shows, gathered in a fixed number of reads (the run summary of
  `shared.reporting`, not the run records, feeds the plots);
- `pages`: the overview, run and alerts pages (pure: data in, HTML out);
- `plots`: inline SVG plots drawn by matplotlib, imported only when a page renders;
- `html`: escaping and layout; everything from data is escaped.

Served by `functions/dashboard.py` under `/api/dashboard`.
"""
