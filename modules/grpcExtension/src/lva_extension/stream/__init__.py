"""One ProcessMediaStream call: the conversation, its limits, batches and where they run.

Kept empty: processing processes import ``stream.processes`` by module path,
and this face must stay cheap to import.
"""
