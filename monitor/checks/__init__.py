"""The checks beyond column freshness: one module per check (pure rules at the top, its ``Check`` at the
bottom), the ``Check`` protocol in ``base``, name → check in ``registry``, the schedule in ``runner``; the
one-page analyses shared with ``govwatch check-page`` in ``page``."""
