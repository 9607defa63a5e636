"""Side-by-side benchmarks: `python -m vggattn.bench data|models|engine`.

Each prints figures measured in one run and their ratios; none is a timed unit test.
"""
