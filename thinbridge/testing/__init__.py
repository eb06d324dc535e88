"""Reference code and synthetic data for the tests and benchmarks; nothing in the package imports it.

``reference`` holds the bridge loss written as the formula reads and the one-bridge AdamW
trainer that the batched trainer is checked (and benchmarked) against; ``synthetic`` makes
libraries of analogues of real molecules for measuring search at sizes no real file here
reaches.
"""
