"""backend/memory_management.py on Forge Neo (commit 000feeed): the two functions the
extension calls, with the real signatures. `events` is stand-in only."""

events: list[str] = []


def unload_all_models():
    """Real: free_memory(1e30, get_torch_device()) — every model off the GPU."""
    events.append("unload_all_models")


def soft_empty_cache(force=False):
    """Real: torch.cuda.empty_cache() and ipc_collect() where CUDA is available."""
    events.append("soft_empty_cache")
