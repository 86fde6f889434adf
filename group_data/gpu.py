"""Settings of hosts in the gpu role (ai, training; NVIDIA driver and CUDA)."""
