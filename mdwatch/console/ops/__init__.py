"""The console's operations, one module per area: what a page and its JSON twin both do (checks,
the change itself, its audit entry), so the HTML routes and ``/api/`` cannot drift apart."""
