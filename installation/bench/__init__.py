"""The benchmark: `python -m installation.bench [--seconds N] [--json PATH] [--quick]`.

Generator throughput per shipped model, the whole loop headless (ours and the synchronous
baseline), input-to-photon latency from injected sound steps, and start-up to first frame.
"""
