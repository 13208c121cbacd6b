"""The quarterly score table (季度得分表): ``score`` computes a ``Report`` (pure), ``table`` lays it out, and
``xlsx``, ``html`` and ``notice`` write it; ``files.write_all`` writes all three."""
