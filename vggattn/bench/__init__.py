"""Side-by-side benchmarks: `python -m vggattn.bench allocator|data|dynamic|engine|models` (`NAME --help`).

Each prints figures measured in one run and their ratios; none is a timed unit test.
"""
