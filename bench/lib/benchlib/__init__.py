"""tieralloc benchmark suite: runs workloads under each allocator and reports (see bench/README.md)."""
